"""The top-down suite of ``posekit bench``: end-to-end time per person of posekit's backends against MMPose's
``inference_topdown`` and rtmlib's ``RTMPose`` on the same image and boxes.

End to end = what each library does for a decoded image and person boxes: crop, normalise, forward, (flip test,)
decode, back to image pixels; divided by the number of persons. Equal work in each group:

* against rtmlib (SimCC models, i.e. RTMPose): flip test off, as rtmlib has none; rtmlib runs the ONNX file that
  posekit exported for its ``onnxruntime`` backend, so both run the same network and weights (the keypoint
  difference is printed as a check);
* against MMPose: flip test on, as in the MMPose config's test settings; MMPose in fp32.

Weights are random (seeded) unless ``weights`` is given: the time does not depend on them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from posekit.bench.inputs import TopdownInput
from posekit.bench.peers import PeerPython, run_peer
from posekit.bench.rows import BACKENDS, Goal, Row, skipped_row, timed_row
from posekit.bench.timing import sample_ms, summarize
from posekit.models.registry import get_entry, list_models

DEFAULT_MODELS = ("rtmpose_m_coco_256x192", "vitpose_b_coco_256x192")
_FP32 = ("eager", "compile", "onnxruntime")
GOALS = (
    Goal("topdown", None, "rtmlib", BACKENDS, 1.0, "<= 1.0x rtmlib on the same ONNX file (per person, flip off)"),
    Goal("topdown", None, "mmpose", ("bf16",), 0.35, "bf16 <= 0.35x MMPose inference_topdown fp32 (per person)"),
    Goal("topdown", None, "mmpose", _FP32, 0.6, "fp32 <= 0.6x MMPose inference_topdown fp32 (per person)"),
)


def resolve_models(names: Sequence[str]) -> list[str]:
    """Public top-down model names for ``names`` (each a registry name, or one without its ``_coco_256x192``
    suffix, e.g. ``rtmpose_m``); unknown or non-top-down names raise ``KeyError`` / ``ValueError``."""
    from posekit.models.mmpose_zoo import TopdownEntry

    known = set(list_models())
    out = []
    for name in names:
        full = name if name in known or f"{name}_coco_256x192" not in known else f"{name}_coco_256x192"
        entry = get_entry(full)
        if not isinstance(entry, TopdownEntry) or entry.weights is None:
            raise ValueError(f"model {name!r} is not a top-down model; top-down models: "
                             + ", ".join(n for n in sorted(known) if isinstance(get_entry(n), TopdownEntry)))
        out.append(full)
    return out


def _mmpose_config(name: str) -> str:
    return str(get_entry(name).weights.meta["config"])


def _is_simcc(model: Any) -> bool:
    from posekit.codecs import SimCC

    return isinstance(model.spec.codec, SimCC)


def estimator(model: Any, backend: str, *, flip: bool, onnx: Callable[[], Path], threads: int) -> Any:
    """A :class:`~posekit.pipelines.topdown.TopDownEstimator` (no detector) running ``model`` (as
    :func:`posekit.create_model` returns it) on ``backend``: ``eager`` (fp32), ``bf16`` (autocast), ``compile``
    (torch.compile, fp32) or ``onnxruntime`` (the file ``onnx()`` returns, ``threads`` intra-op threads)."""
    from posekit.pipelines.topdown import TopDownEstimator

    if backend == "onnxruntime":  # the exported file (the one rtmlib runs) on the same pipeline class
        return TopDownEstimator(onnx(), None, spec=model.spec, flip_test=flip, backend="onnxruntime",
                                intra_op_num_threads=threads, shared_threads=False)
    if backend not in ("eager", "bf16", "compile"):
        raise ValueError(f"unknown top-down backend {backend!r}; choose from {', '.join(BACKENDS)}")
    return TopDownEstimator(model, None, flip_test=flip, precision="bf16" if backend == "bf16" else "fp32",
                            compile=backend == "compile")


def _lazy_onnx(name: str, folder: Path, weights: Path | None, progress: Callable[[str], None]
               ) -> Callable[[], Path]:
    """A function returning the model's ONNX file, exported (dynamic batch) on its first call; an export failure
    raises ``RuntimeError`` on every call, so each row that needs the file is skipped with the same reason."""

    @functools.cache
    def export() -> Path | str:
        import torch

        from posekit.runtime.onnx_files import export_model

        progress(f"{name}: exporting to ONNX (once, for onnxruntime and rtmlib)")
        try:
            torch.manual_seed(0)  # the same random weights as the PyTorch model of the other rows
            return export_model(name, folder / f"{name}.onnx", dynamic_batch=True, weights=weights,
                                random_weights=weights is None)[0]
        except Exception as exc:  # reported in the rows that need the file
            return f"ONNX export failed: {type(exc).__name__}: {exc}"

    def path() -> Path:
        got = export()
        if isinstance(got, str):
            raise RuntimeError(got)
        return got

    return path


def _rtmlib_row(template: Row, python: PeerPython, onnx: Callable[[], Path], model: Any, inp: TopdownInput, *,
                threads: int, repeats: int, warmup: int) -> tuple[Row, np.ndarray | None]:
    if python.path is None:
        return skipped_row(template, python.reason), None
    try:
        path = onnx()
    except RuntimeError as exc:
        return skipped_row(template, f"needs posekit's ONNX file: {exc}"), None
    spec = {"onnx": str(path), "image": str(inp.image.png), "boxes": inp.boxes.tolist(),
            "input_size": list(model.spec.input_size), "mean": list(model.spec.mean), "std": list(model.spec.std),
            "threads": threads, "repeats": repeats, "warmup": warmup}
    got = run_peer(python, spec)
    if got.data is None:
        return skipped_row(template, got.reason), None
    row = timed_row(template, summarize(got.data["times_ms"]))
    runner = f"rtmlib {got.data.get('version', '?')} ({got.data.get('runtime', 'onnxruntime')})"
    return replace(row, runner=runner), np.asarray(got.data["keypoints"], np.float64)


def _mmpose_times(python: PeerPython, models: Sequence[str], inp: TopdownInput, *, threads: int, repeats: int,
                  warmup: int) -> tuple[dict[str, Any], str, str]:
    """({model: peer result}, runner label, reason when the whole peer failed)."""
    if python.path is None:
        return {}, "MMPose inference_topdown", python.reason
    spec = {"image": str(inp.image.png), "boxes": inp.boxes.tolist(), "threads": threads, "repeats": repeats,
            "warmup": warmup, "configs": {m: _mmpose_config(m) for m in models}}
    got = run_peer(python, spec)
    if got.data is None:
        return {}, "MMPose inference_topdown", got.reason
    return got.data.get("results", {}), f"MMPose {got.data.get('version', '?')} inference_topdown fp32", ""


def topdown_rows(inp: TopdownInput, *, models: Sequence[str], backends: Sequence[str], threads: int, repeats: int,
                 warmup: int, workdir: Path, mmpose: PeerPython, rtmlib: PeerPython, weights: Path | None = None,
                 progress: Callable[[str], None] = lambda line: None) -> list[Row]:
    """Rows of the top-down suite (see the module docstring), in table order: per model and group the peer row,
    then posekit's ``backends``. ``threads`` is passed to the peers and ONNX Runtime; torch's thread count is the
    caller's. ``models`` are public names (:func:`resolve_models`) and ``backends`` among :data:`BACKENDS`, as
    :func:`posekit.bench.command.run_bench` checks. Nothing is raised for a backend or peer that fails: its row
    carries the reason."""
    import torch

    import posekit

    n = len(inp.boxes)
    progress(f"top-down: MMPose peer ({'not found' if mmpose.path is None else mmpose.path})")
    mm_results, mm_runner, mm_reason = _mmpose_times(mmpose, models, inp, threads=threads, repeats=repeats,
                                                     warmup=warmup)
    rows: list[Row] = []
    for name in models:
        torch.manual_seed(0)
        model = posekit.create_model(name, weights=weights) if weights is not None else posekit.create_model(name)
        onnx = _lazy_onnx(name, Path(workdir), weights, progress)
        for flip in ([False] if _is_simcc(model) else []) + [True]:
            base = Row("topdown", name, "", "", False, flip, n, "person")
            reference = None
            if flip:
                peer = replace(base, runner=mm_runner, backend="mmpose", is_peer=True)
                result = mm_results.get(name, {})
                if "times_ms" in result:
                    rows.append(timed_row(peer, summarize(result["times_ms"])))
                else:
                    rows.append(skipped_row(peer, mm_reason or result.get("error", "no result from the peer")))
            else:
                progress(f"{name}: rtmlib peer")
                peer = replace(base, runner="rtmlib RTMPose", backend="rtmlib", is_peer=True)
                peer_row, reference = _rtmlib_row(peer, rtmlib, onnx, model, inp, threads=threads,
                                                  repeats=repeats, warmup=warmup)
                rows.append(peer_row)
            for backend in backends:
                progress(f"{name}: posekit {backend}, flip {'on' if flip else 'off'}")
                template = replace(base, runner=f"posekit {backend}", backend=backend)
                try:
                    est = estimator(model, backend, flip=flip, onnx=onnx, threads=threads)
                    summary = summarize(sample_ms(lambda: est.estimate(inp.image.rgb, boxes=inp.boxes),
                                                  repeats, warmup))
                    shift = None
                    if reference is not None:
                        keypoints = est.estimate(inp.image.rgb, boxes=inp.boxes).keypoints
                        shift = float(np.abs(keypoints - reference).max()) if keypoints.shape == reference.shape \
                            else None
                    rows.append(timed_row(template, summary, max_shift_px=shift))
                except Exception as exc:  # an unavailable backend (compiler, ONNX Runtime) must not end the run
                    rows.append(skipped_row(template, f"{type(exc).__name__}: {exc}"))
    return rows
