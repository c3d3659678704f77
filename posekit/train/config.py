"""Training configuration: frozen dataclasses, YAML recipes with one level of ``base:``, ``key=value`` overrides.

A recipe is a YAML mapping with the sections of :class:`TrainConfig`. It may name one ``base:`` recipe (a path
relative to the recipe file); the recipe is deep-merged onto it: mappings merge key by key, anything else (numbers,
strings, lists such as ``data.train``) replaces the base's value. The base itself may not have a ``base:`` (one
level, by design: every setting is at most two files away). Overrides such as ``optim.lr=1e-4``,
``model.srcnn=true``, ``augment.scale_range=0.6,1.4`` or ``data.train.0.indices=0,500`` are applied last and typed
by the field they set. Unknown keys, wrong types and bad values raise :class:`ConfigError` naming the key (with the
closest valid name for a misspelt key). Data paths are kept as written (relative paths are relative to the working
directory the trainer runs in, normally the repository root, as in MMPose).

>>> cfg = load_config("recipes/lsp_simplebaseline_r50.yaml", ["optim.lr=1e-3"], check_model=False)  # doctest: +SKIP
>>> cfg.optim.lr                                                                                      # doctest: +SKIP
0.001
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from posekit import skeletons
from posekit.data.augment import AugmentOptions
from posekit.models.registry import get_entry
from posekit.train._typed_config import ConfigError, _build, _merge, _override, _read_yaml

__all__ = [
    "ConfigError", "DataConfig", "DatasetConfig", "ModelConfig", "OptimConfig", "RuntimeConfig", "ScheduleConfig",
    "TrainConfig", "check_model_name", "config_from_dict", "load_config",
]


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


@dataclass(frozen=True)
class ModelConfig:
    """The network. ``name`` is a public model name (``posekit.list_models()``; checked by :func:`load_config`)
    whose architecture and codec are used; its head is rebuilt for the data's skeleton when the keypoints differ.

    Attributes:
        name: model name, e.g. ``"hrnet_w32_coco_256x192"``.
        weights: checkpoint to start from (official MMPose ``.pth`` or a posekit checkpoint); None = from scratch.
        srcnn: add the SRCNN heatmap refinement head.
        freeze_backbone: keep the backbone's weights fixed.
        input_size: model input ``(width, height)``; None = the model's own.
    """

    name: str
    weights: str | None = None
    srcnn: bool = False
    freeze_backbone: bool = False
    input_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        _require(bool(self.name), "name must be a model name from posekit.list_models()")
        _require(self.input_size is None or min(self.input_size) > 0, "input_size must be positive")


@dataclass(frozen=True)
class DatasetConfig:
    """One annotation source.

    Attributes:
        kind: ``lsp`` / ``lspet`` (folder with ``joints.mat`` and ``images/``), ``coco`` (COCO-format keypoint JSON),
            ``mpii`` (pose-hg-train ``.h5``).
        path: the folder (LSP, LSPET) or annotation file (COCO, MPII).
        images: image folder (COCO ``file_name`` is relative to it; MPII images); None for LSP.
        indices: ``(start, stop)`` 0-based half-open range of records (images for LSP, annotations for COCO);
            None = all (LSP: the loader's default split).
    """

    kind: Literal["lsp", "lspet", "coco", "mpii"]
    path: str
    images: str | None = None
    indices: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        _require(bool(self.path), "path must not be empty")
        if self.indices is not None:
            start, stop = self.indices
            _require(0 <= start < stop, f"indices must be (start, stop) with 0 <= start < stop, got {self.indices}")


@dataclass(frozen=True)
class DataConfig:
    """Training and validation data.

    Attributes:
        train: the sources concatenated for training (at least one).
        val: the validation sources (may be empty: no validation).
        skeleton: name of a table in :mod:`posekit.skeletons` (``"lsp14"``, ``"coco17"``, ...); None = the
            dataset's own (a COCO file's category).
    """

    train: tuple[DatasetConfig, ...]
    val: tuple[DatasetConfig, ...] = ()
    skeleton: str | None = None

    def __post_init__(self) -> None:
        _require(len(self.train) > 0, "train must list at least one dataset")
        if self.skeleton is not None:
            names = sorted(n for n, v in vars(skeletons).items() if isinstance(v, skeletons.Skeleton))
            if self.skeleton not in names:
                close = difflib.get_close_matches(self.skeleton, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(names)}"
                raise ValueError(f"skeleton {self.skeleton!r} is not a table of posekit.skeletons{hint}")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW (``torch.optim.AdamW``): learning rate, decoupled weight decay, betas."""

    lr: float = 5e-4
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)

    def __post_init__(self) -> None:
        _require(self.lr > 0, f"lr must be positive, got {self.lr}")
        _require(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        _require(all(0 <= b < 1 for b in self.betas), f"betas must lie in [0, 1), got {self.betas}")


@dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule: linear warm-up, then cosine decay or steps.

    Attributes:
        kind: ``cosine`` (to ``min_lr_factor * lr`` at the end) or ``step`` (times ``gamma`` at each milestone).
        epochs: training length in passes over the training data (MMPose's heatmap recipes: 210).
        steps: training length in optimizer steps; overrides ``epochs`` when set.
        warmup_steps: steps of linear warm-up from ``warmup_factor * lr`` (MMPose: 500 from 0.001).
        warmup_factor: starting fraction of the warm-up.
        milestones: ``step`` decay points as fractions of the total steps, increasing in (0, 1) (MMPose's 170 and
            200 of 210 epochs are 0.81, 0.95).
        gamma: ``step`` decay factor.
        min_lr_factor: ``cosine`` final fraction of ``lr``.
    """

    kind: Literal["cosine", "step"] = "cosine"
    epochs: int = 210
    steps: int | None = None
    warmup_steps: int = 500
    warmup_factor: float = 0.001
    milestones: tuple[float, ...] = (0.81, 0.95)
    gamma: float = 0.1
    min_lr_factor: float = 0.0

    def __post_init__(self) -> None:
        _require(self.epochs > 0, f"epochs must be positive, got {self.epochs}")
        _require(self.steps is None or self.steps > 0, f"steps must be positive, got {self.steps}")
        _require(self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps}")
        _require(0 < self.warmup_factor <= 1, f"warmup_factor must lie in (0, 1], got {self.warmup_factor}")
        m = self.milestones
        _require(all(0 < a < 1 for a in m) and all(a < b for a, b in zip(m, m[1:])),
                 f"milestones must be increasing fractions in (0, 1), got {m}")
        _require(0 < self.gamma <= 1, f"gamma must lie in (0, 1], got {self.gamma}")
        _require(0 <= self.min_lr_factor <= 1, f"min_lr_factor must lie in [0, 1], got {self.min_lr_factor}")


@dataclass(frozen=True)
class RuntimeConfig:
    """How the run executes. Step counts are optimizer steps; 0 switches a periodic action off (it still happens
    at the end of training).

    Attributes:
        batch_size: instances per step and per process (the global batch is ``batch_size * world_size``).
        workers: data-loading worker processes per training process.
        precision: ``fp32``, ``bf16`` (autocast on CPU and GPU) or ``fp16`` (autocast + gradient scaler, GPU only).
        seed: seeds the model initialisation, data order and augmentation generators.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
        out_dir: checkpoints, the resolved ``config.yaml``, CSV and TensorBoard logs.
        checkpoint_every: steps between checkpoints.
        resume: checkpoint to continue from; None = a fresh run.
        log_every: steps between log lines.
        val_every: steps between validations.
        ema: keep an exponential moving average of the weights (used for validation and the final model).
        ema_decay: the EMA's per-step decay.
        grad_clip: maximum global gradient norm; None = no clipping.
    """

    batch_size: int = 32
    workers: int = 2
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    seed: int = 0
    device: str = "auto"
    out_dir: str = "runs/train"
    checkpoint_every: int = 1000
    resume: str | None = None
    log_every: int = 50
    val_every: int = 0
    ema: bool = False
    ema_decay: float = 0.9999
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        _require(self.batch_size > 0, f"batch_size must be positive, got {self.batch_size}")
        for name in ("workers", "checkpoint_every", "log_every", "val_every"):
            _require(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        _require(self.device == "auto" or self.device == "cpu" or self.device.split(":")[0] == "cuda",
                 f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        _require(0 < self.ema_decay < 1, f"ema_decay must lie in (0, 1), got {self.ema_decay}")
        _require(self.grad_clip is None or self.grad_clip > 0, f"grad_clip must be positive, got {self.grad_clip}")


@dataclass(frozen=True)
class TrainConfig:
    """A complete training run; build it with :func:`load_config`."""

    model: ModelConfig
    data: DataConfig
    augment: AugmentOptions = field(default_factory=AugmentOptions)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists), loadable again by :func:`config_from_dict`."""
        return _plain(dataclasses.asdict(self))

    def to_yaml(self) -> str:
        """The resolved config as YAML (no ``base:``), for saving next to checkpoints; :func:`load_config` reads it
        back to an equal config."""
        class Dumper(yaml.SafeDumper):  # lists of scalars inline ([0.5, 1.5]), everything else in block style
            pass

        def seq(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
            flow = all(not isinstance(v, (list, dict)) for v in data)
            return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)

        Dumper.add_representer(list, seq)
        return yaml.dump(self.to_dict(), Dumper=Dumper, sort_keys=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def config_from_dict(data: Mapping[str, Any], overrides: Sequence[str] = ()) -> TrainConfig:
    """:class:`TrainConfig` from nested plain data (as :meth:`TrainConfig.to_dict` gives), then ``overrides``."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"config data must be a mapping, got {type(data).__name__}")
    raw = copy.deepcopy(dict(data))  # overrides write into it
    for item in overrides:
        _override(raw, item, TrainConfig)
    return _build(TrainConfig, raw, "")


def load_config(path: str | os.PathLike, overrides: Sequence[str] = (), *, check_model: bool = True) -> TrainConfig:
    """Read a recipe, its ``base:`` (one level), apply ``key=value`` overrides and build a :class:`TrainConfig`.

    Args:
        path: the YAML recipe.
        overrides: ``dotted.key=value`` strings, applied in order (see the module docstring).
        check_model: check ``model.name`` against ``posekit.list_models()`` (imports the model registry).

    Raises:
        FileNotFoundError: the recipe or its base does not exist.
        ConfigError: invalid YAML, a nested ``base:``, an unknown key (with the closest valid name), a value of the
            wrong type (naming the key and the expected type), or a value out of range.
    """
    path = Path(path)
    data = _read_yaml(path)
    base = data.pop("base", None)
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"{path}: base must be a path to a recipe, got {base!r}")
        base_path = path.parent / base
        base_data = _read_yaml(base_path)
        if "base" in base_data:
            raise ConfigError(f"{base_path}: a base recipe cannot have its own base (one level of inheritance; "
                              f"{path} -> {base_path} -> {base_data['base']})")
        data = _merge(base_data, data)
    try:
        cfg = config_from_dict(data, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if check_model:
        check_model_name(cfg.model.name)
    return cfg


def check_model_name(name: str) -> None:
    """Raise :class:`ConfigError` unless ``name`` is in ``posekit.list_models()`` (suggesting the closest)."""
    try:
        get_entry(name)
    except KeyError as exc:  # the registry's message names the closest known models
        raise ConfigError(f"model.name: {exc.args[0]}") from None
