"""The BlazePose suite of ``posekit bench``: posekit's BlazePose pipeline per image against MediaPipe's own
runtime (``mp.solutions.pose``, static image mode, the full landmark model) on the same images.

Per image = one pass over the images (person detector, landmark model, decoding on each) / number of images.
The largest landmark difference to MediaPipe (first person of each image, pixels) is printed as a check that
both did the same work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from posekit.bench.inputs import BlazePoseInput
from posekit.bench.peers import PeerPython, run_peer
from posekit.bench.rows import BACKENDS, Goal, Row, skipped_row, timed_row
from posekit.bench.timing import sample_ms, summarize

MODEL = "blazepose_full"
GOALS = (Goal("blazepose", MODEL, "mediapipe", BACKENDS, 1.0, "BlazePose <= 1.0x MediaPipe per image"),)


def estimator(backend: str, *, threads: int) -> Any:
    """posekit's BlazePose pipeline with :data:`~posekit.pipelines.mediapipe_pose.MEDIAPIPE_EXACT` on ``backend``:
    ``eager`` (fp32), ``bf16`` (refused by the pipeline: a ``ValueError`` with the reason), ``compile``
    (torch.compile) or ``onnxruntime`` (``threads`` intra-op threads; the ONNX files are exported into the cache on
    first use)."""
    from posekit.pipelines.base import PoseEstimator
    from posekit.pipelines.mediapipe_pose import MEDIAPIPE_EXACT

    options = {"eager": {}, "bf16": {"precision": "bf16"}, "compile": {"compile": True},
               "onnxruntime": {"backend": "onnxruntime", "intra_op_num_threads": threads}}
    if backend in options:  # mp.solutions.pose's work: its single detector pass (the peer of the comparison)
        return PoseEstimator.from_pretrained(MODEL, **MEDIAPIPE_EXACT, **options[backend])
    raise ValueError(f"unknown BlazePose backend {backend!r}; choose from {', '.join(BACKENDS)}")


def _max_shift(results: Sequence[Any], reference: Sequence[Any]) -> float | None:
    """Largest |posekit - MediaPipe| (pixels) over the first person of each image both found a person in."""
    diffs = [np.abs(poses.keypoints[0] - np.asarray(ref, np.float64)).max()
             for poses, ref in zip(results, reference) if ref is not None and len(poses)]
    return float(max(diffs)) if diffs else None


def blazepose_rows(inp: BlazePoseInput, *, backends: Sequence[str], threads: int, repeats: int, warmup: int,
                   mediapipe: PeerPython, progress: Callable[[str], None] = lambda line: None) -> list[Row]:
    """Rows of the BlazePose suite: the MediaPipe row, then posekit's ``backends`` (see the module docstring).
    Without images every row is skipped with ``inp.reason``; a failing backend or peer gives its reason.
    ``backends`` are among :data:`~posekit.bench.rows.BACKENDS`, as :func:`posekit.bench.command.run_bench`
    checks."""
    base = Row("blazepose", MODEL, "", "", False, None, max(len(inp.images), 1), "image")
    peer = replace(base, runner="MediaPipe mp.solutions.pose", backend="mediapipe", is_peer=True)
    templates = [replace(base, runner=f"posekit {b}", backend=b) for b in backends]
    if not inp.images:
        return [skipped_row(r, inp.reason) for r in [peer, *templates]]
    rows = []
    reference = None
    progress(f"BlazePose: MediaPipe peer ({'not found' if mediapipe.path is None else mediapipe.path})")
    if mediapipe.path is None:
        rows.append(skipped_row(peer, mediapipe.reason))
    else:
        got = run_peer(mediapipe, {"images": [str(im.png) for im in inp.images], "repeats": repeats,
                                   "warmup": warmup})
        if got.data is None:
            rows.append(skipped_row(peer, got.reason))
        else:
            reference = got.data.get("landmarks_px")
            rows.append(replace(timed_row(peer, summarize(got.data["times_ms"])),
                                runner=f"MediaPipe {got.data.get('version', '?')} mp.solutions.pose"))
    rgbs = [im.rgb for im in inp.images]
    for template in templates:
        progress(f"BlazePose: posekit {template.backend}")
        try:
            est = estimator(template.backend, threads=threads)
            summary = summarize(sample_ms(lambda: [est.predict_rgb(rgb) for rgb in rgbs], repeats, warmup))
            shift = None if reference is None else _max_shift([est.predict_rgb(rgb) for rgb in rgbs], reference)
            rows.append(timed_row(template, summary, max_shift_px=shift))
        except Exception as exc:  # an unavailable backend (bf16, compiler, ONNX Runtime) must not end the run
            rows.append(skipped_row(template, f"{type(exc).__name__}: {exc}"))
    return rows
