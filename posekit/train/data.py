"""Training data: :class:`PoseSample` lists -> crops and heatmap targets, in a deterministic, resumable order.

* :func:`load_samples` reads the ``data.train`` / ``data.val`` sources of a config.
* :class:`PoseDataset` turns one sample into a model input and its targets. Training items are indexed by
  ``(epoch, index)`` and augmented with ``numpy.random.default_rng((seed, epoch, index))``: an item's crop depends
  on nothing else (not on the worker that makes it, nor on what ran before), which is what makes resuming exact and
  results independent of ``runtime.workers``.
* :class:`StepSampler` yields those keys for optimizer steps ``start_step, start_step + 1, ...``: per epoch a
  permutation of the training set drawn from a ``torch.Generator`` seeded with ``(seed, epoch)``, cut into global
  batches of ``batch_size * world_size`` (the incomplete last batch is dropped), each rank taking its contiguous
  ``batch_size`` slice of every global batch -- so one process with ``batch_size * world_size`` sees the same
  global batches as ``world_size`` processes (what the DDP test checks).

Crops are cut with ``half_pixel=False`` (:func:`posekit.data.augment.affine_crop`): MMPose's crop arithmetic, the
crop :class:`posekit.pipelines.topdown.TopDownEstimator` cuts at inference, so the model learns the convention it is
run with. Every *labelled* keypoint (finite; LSP's occluded joints included, as COCO's ``v=1``) gets a target and
weight 1; unlabelled ones (NaN) weight 0.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from posekit.data.augment import TopdownAugment, crop_instance
from posekit.data.coco import load_coco_keypoints
from posekit.data.lsp import load_lsp
from posekit.data.mpii import load_mpii
from posekit.data.sample import PoseSample
from posekit.io.image import load_image

__all__ = ["PoseDataset", "StepSampler", "load_samples", "make_loader", "seed_worker"]


def load_samples(sources: Sequence[Any], *, skeleton: Any = None) -> list[PoseSample]:
    """Concatenated :class:`PoseSample` lists of ``DatasetConfig`` entries (``kind`` lsp, lspet, coco, mpii).

    ``indices=(start, stop)`` selects images (LSP / LSPET) or annotations (COCO, MPII) ``start..stop-1``.
    Samples without a box or image file are dropped (the loaders report them). Raises ValueError when a source
    gives no sample."""
    out: list[PoseSample] = []
    for src in sources:
        rng = range(*src.indices) if src.indices is not None else None
        if src.kind in ("lsp", "lspet"):
            samples, _ = load_lsp(src.path, indices=rng, extended=src.kind == "lspet")
        elif src.kind == "coco":
            samples, _ = load_coco_keypoints(src.path, image_dir=src.images, skeleton=skeleton)
            samples = samples if rng is None else samples[rng.start:rng.stop]
        elif src.kind == "mpii":
            samples, _ = load_mpii(src.path, image_dir=src.images)
            samples = samples if rng is None else samples[rng.start:rng.stop]
        else:  # pragma: no cover - the config's Literal type prevents it
            raise ValueError(f"unknown dataset kind {src.kind!r}")
        samples = [s for s in samples if s.box is not None and s.image_path is not None]
        if not samples:
            raise ValueError(f"data source {src.kind} {src.path!r} gave no usable sample (image and box)")
        out.extend(samples)
    return out


class PoseDataset(Dataset):
    """Crops and targets of :class:`PoseSample` s.

    Args:
        samples: the persons (all with the same skeleton, an image path and a box).
        codec: heatmap encoder of the model's coarse output (``encode(keypoints, visible)``).
        input_size: model input ``(width, height)``.
        augment: the training pipeline; ``None`` = the deterministic validation crop (box enlarged ``padding``).
        refine_codec: also encode targets for an SRCNN-refined map (``"target_fine"``).
        seed: base seed of the per-item generators.
        padding: validation box enlargement.
        udp: UDP crops (validation; the training crop takes it from ``augment``).
        cache_images: decode every image once, at construction (RAM: the images' decoded size).

    Items (dict of tensors): ``image`` (3, H, W) uint8 RGB crop; training adds ``target`` (K, h, w) float32,
    ``weight`` (K,) float32 and with ``refine_codec`` ``target_fine`` (K, 2h, 2w); validation adds ``keypoints``
    (K, 2) float32 GT image pixels (NaN = unlabelled), ``visible`` (K,) float32 labelled mask, ``box`` (4,) xyxy,
    ``center`` and ``scale`` (2,) float32 of the crop, ``index``. Training keys are ``(epoch, index)``, validation
    keys plain indices.
    """

    def __init__(self, samples: Sequence[PoseSample], *, codec: Any, input_size: Sequence[int],
                 augment: TopdownAugment | None = None, refine_codec: Any = None, seed: int = 0,
                 padding: float = 1.25, udp: bool = False, cache_images: bool = False) -> None:
        if not samples:
            raise ValueError("samples must not be empty")
        k = samples[0].skeleton.num_keypoints
        for s in samples:
            if s.skeleton.num_keypoints != k or s.box is None or s.image_path is None:
                raise ValueError(f"sample {s.image_id!r}: every sample needs an image path, a box and {k} keypoints")
        self.samples = tuple(samples)
        self.codec, self.refine_codec, self.augment = codec, refine_codec, augment
        self.input_size = tuple(int(v) for v in input_size)
        self.seed, self.padding, self.udp = int(seed), float(padding), bool(udp)
        self._cache = tuple(self._load(i) for i in range(len(self.samples))) if cache_images else None

    def __len__(self) -> int:
        return len(self.samples)

    def _load(self, index: int) -> np.ndarray:
        return load_image(self.samples[index].image_path)

    def image(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB image of sample ``index`` (cached or read from disk)."""
        return self._cache[index] if self._cache is not None else self._load(index)

    def __getitem__(self, key: Any) -> dict[str, torch.Tensor]:
        if self.augment is None:
            return self._val_item(int(key))
        if not (isinstance(key, tuple) and len(key) == 2):
            raise KeyError(f"training items are indexed by (epoch, index), got {key!r}")
        epoch, index = int(key[0]), int(key[1])
        s = self.samples[index]
        labelled = np.isfinite(s.keypoints).all(axis=1).astype(np.float32)
        rng = np.random.default_rng((self.seed, epoch, index))
        crop = self.augment(self.image(index), s.keypoints, labelled, s.box, rng=rng)
        kp, vis = crop.keypoints[None], crop.visible[None]
        t = self.codec.encode(kp, vis)
        item = {"image": torch.from_numpy(np.ascontiguousarray(crop.image.transpose(2, 0, 1))),
                "target": torch.from_numpy(t.heatmaps[0]), "weight": torch.from_numpy(t.keypoint_weights[0])}
        if self.refine_codec is not None:
            item["target_fine"] = torch.from_numpy(self.refine_codec.encode(kp, vis).heatmaps[0])
        return item

    def _val_item(self, index: int) -> dict[str, torch.Tensor]:
        s = self.samples[index]
        labelled = np.isfinite(s.keypoints).all(axis=1)
        crop = crop_instance(self.image(index), s.keypoints, labelled.astype(np.float32), s.box,
                             input_size=self.input_size, padding=self.padding, udp=self.udp, half_pixel=False)
        return {"image": torch.from_numpy(np.ascontiguousarray(crop.image.transpose(2, 0, 1))),
                "keypoints": torch.from_numpy(np.array(s.keypoints, np.float32)),
                "visible": torch.from_numpy(labelled.astype(np.float32)),
                "box": torch.from_numpy(np.array(s.box, np.float32)),
                "center": torch.from_numpy(crop.center.astype(np.float32)),
                "scale": torch.from_numpy(crop.scale.astype(np.float32)), "index": torch.tensor(index)}


class StepSampler(Sampler):
    """Keys ``(epoch, index)`` for steps ``start_step .. total_steps - 1`` of one rank (module docstring).

    Args:
        num_samples: training set size.
        batch_size: per-rank batch size.
        total_steps: steps to yield keys for (the sampler ends there).
        start_step: first step (resume).
        rank, world_size: this process and the number of processes.
        seed: permutation seed.
    """

    def __init__(self, num_samples: int, *, batch_size: int, total_steps: int, start_step: int = 0, rank: int = 0,
                 world_size: int = 1, seed: int = 0) -> None:
        self.global_batch = int(batch_size) * int(world_size)
        if num_samples < self.global_batch:
            raise ValueError(f"the training set has {num_samples} samples, fewer than one global batch "
                             f"({batch_size} x {world_size} processes)")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must lie in [0, {world_size}), got {rank}")
        self.num_samples, self.batch_size = int(num_samples), int(batch_size)
        self.total_steps, self.start_step = int(total_steps), int(start_step)
        self.rank, self.world_size, self.seed = int(rank), int(world_size), int(seed)

    @property
    def steps_per_epoch(self) -> int:
        return self.num_samples // self.global_batch

    def epoch_order(self, epoch: int) -> torch.Tensor:
        """(num_samples,) int64 permutation of epoch ``epoch``."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.num_samples, generator=g)

    def __len__(self) -> int:
        return max(self.total_steps - self.start_step, 0) * self.batch_size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        spe = self.steps_per_epoch
        step = self.start_step
        while step < self.total_steps:
            epoch = step // spe
            order = self.epoch_order(epoch)
            for s in range(step % spe, spe):
                if step >= self.total_steps:
                    return
                lo = s * self.global_batch + self.rank * self.batch_size
                for i in order[lo:lo + self.batch_size].tolist():
                    yield epoch, i
                step += 1


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed Python's and NumPy's global generators from the worker's torch seed
    (the loader's seeded generator makes that seed reproducible). posekit's own augmentation does not use them
    (it draws from the per-item generator), but third-party code in a worker then is reproducible too."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def make_loader(dataset: Dataset, *, batch_size: int, sampler: Sampler | None = None, workers: int = 0,
                seed: int = 0, pin_memory: bool = False) -> DataLoader:
    """A DataLoader over ``dataset`` (``sampler`` order, or sequential), batches of ``batch_size``, ``workers``
    processes seeded through a ``torch.Generator`` seeded with ``seed`` and :func:`seed_worker`."""
    g = torch.Generator().manual_seed(int(seed))
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, drop_last=False,
                      worker_init_fn=seed_worker, generator=g, pin_memory=pin_memory,
                      persistent_workers=False)
