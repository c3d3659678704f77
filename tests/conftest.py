"""Shared test helpers: the read-only ``../shared`` folder of data and reference fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import setuptools  # noqa: F401  (before anything imports stdlib distutils: torch.compile's C++ builder needs
#                                 setuptools' distutils, and a test that imported stdlib's first broke it)

SHARED = Path(__file__).resolve().parents[2] / "shared"


def shared_path(*parts: str) -> Path:
    """Path under ``../shared``; skips the calling test with a reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (the read-only ../shared data folder is not next to this checkout)")
    return path


def coco_person_boxes(annotation_file: str) -> tuple[list[dict], dict]:
    """``(images, {image id: (N, 4) float64 xyxy pixels})``: the non-crowd person boxes of a COCO keypoint file in
    ``../shared/data/coco`` (skips without it)."""
    import json

    import numpy as np

    data = json.loads(shared_path("data", "coco", annotation_file).read_text())
    boxes: dict[int, list] = {im["id"]: [] for im in data["images"]}
    for a in data["annotations"]:
        if not a.get("iscrowd"):
            x, y, w, h = a["bbox"]
            boxes[a["image_id"]].append([x, y, x + w, y + h])
    return data["images"], {k: np.asarray(v, np.float64).reshape(-1, 4) for k, v in boxes.items()}


def matched_ious(gt, pred):  # noqa: ANN001, ANN201 ((N, 4) and (M, 4) xyxy arrays -> (N,) array)
    """IoU of each GT box with its prediction under a one-to-one assignment maximising IoU (0 when unmatched)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    from posekit.boxes import box_iou

    out = np.zeros(len(gt))
    if len(gt) and len(pred):
        iou = box_iou(gt, pred)
        rows, cols = linear_sum_assignment(-iou)
        out[rows] = iou[rows, cols]
    return out


def offline_env(cache: Path) -> dict[str, str]:
    """Environment of an offline run: an empty posekit cache at ``cache`` and every HTTP(S) request sent to a closed
    local port, so a real download attempt fails at once, whether or not this machine can reach the model hosts."""
    closed = "http://127.0.0.1:9"
    return {"POSEKIT_HOME": str(cache), "https_proxy": closed, "HTTPS_PROXY": closed, "http_proxy": closed,
            "HTTP_PROXY": closed, "no_proxy": "", "NO_PROXY": ""}


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """Every test leaves PyTorch's thread count as it found it: float32 results depend on it (a convolution's
    accumulation order), and parity bounds such as BlazePose heavy's TF.js check hold at the default count."""
    import torch

    threads = torch.get_num_threads()
    yield
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@pytest.fixture()
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test process offline (:func:`offline_env`); returns the empty cache folder."""
    cache = tmp_path / "cache"
    for key, value in offline_env(cache).items():
        monkeypatch.setenv(key, value)
    return cache


# Packages whose arithmetic a parity test can depend on: every failure report names their versions and the
# thread counts it ran with, so a failure on another machine says at once what differs.
_NUMERIC_PACKAGES = ("numpy", "torch", "opencv-python-headless", "onnxruntime", "ai-edge-litert", "scipy",
                     "pycocotools")


def _environment() -> str:
    import os
    from importlib import metadata

    versions = []
    for name in _NUMERIC_PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} absent")
    threads = f"os.cpu_count() {os.cpu_count()}"
    try:
        import torch

        threads += f", torch threads {torch.get_num_threads()} (interop {torch.get_num_interop_threads()})"
    except ImportError:
        pass
    try:
        import cv2

        threads += f", cv2 threads {cv2.getNumThreads()}"
    except ImportError:
        pass
    env = {k: v for k, v in os.environ.items() if k.endswith("_NUM_THREADS")}
    return "; ".join(versions) + "\n" + threads + (f"; {env}" if env else "")


def pytest_report_header(config: pytest.Config) -> str:
    return "posekit numerics: " + _environment().replace("\n", "\n  ")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ARG001
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        report.sections.append(("posekit numerics (versions and threads of this run)", _environment()))
