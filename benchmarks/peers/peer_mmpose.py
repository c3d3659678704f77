"""MMPose side of ``posekit bench``: ``mmpose.apis.inference_topdown`` on the same image and boxes.

Runs under the Python of a virtual environment with ``mmpose==1.3.2`` (and its torch, mmcv, mmengine), started
by :func:`posekit.bench.peers.run_peer`. Imports only the standard library, MMPose and what it needs, and posekit's ``posekit/bench/timing.py`` (standard library only; found
through this checkout's path, posekit itself is not imported).

stdin: ``{"image": path, "boxes": [[x1, y1, x2, y2], ...], "configs": {model: config file stem}, "threads": int,
"repeats": int, "warmup": int}``; the stem is found under MMPose's bundled ``.mim/configs`` (the posekit model
zoo records it).
stdout, last line: ``{"version": str, "torch": str, "results": {model: {"times_ms": [ms per call, ...]} or
{"error": str}}}``.

Models get random weights (``init_model(config, None)``; speed does not depend on them) and run the config's
test pipeline with its flip test, in fp32, ``torch.set_num_threads(threads)``.
"""

import json
import sys
from pathlib import Path

_TIMING = Path(__file__).resolve().parents[2] / "posekit" / "bench"  # posekit's timing.py (stdlib only)
sys.path.insert(0, str(_TIMING))
from timing import sample_ms  # noqa: E402

# neither posekit/bench/ nor this folder may shadow the peer's own packages
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() not in (_TIMING, Path(__file__).resolve().parent)]


def _config(configs: Path, stem: str) -> Path:
    found = sorted(configs.rglob(f"{stem}.py"), key=lambda p: ("body_2d_keypoint" not in p.parts, str(p)))
    if not found:
        raise FileNotFoundError(f"config {stem}.py not under {configs}")
    return found[0]


def main() -> None:
    import cv2
    import mmpose
    import numpy as np
    import torch
    from mmpose.apis import inference_topdown, init_model

    spec = json.loads(sys.stdin.read())
    torch.set_num_threads(int(spec["threads"]))
    configs = Path(mmpose.__file__).parent / ".mim" / "configs"
    bgr = cv2.imread(spec["image"])
    boxes = np.asarray(spec["boxes"], np.float32).reshape(-1, 4)
    results = {}
    for key, stem in spec["configs"].items():
        try:
            model = init_model(str(_config(configs, stem)), None, device="cpu")
            times = sample_ms(lambda: inference_topdown(model, bgr, boxes, bbox_format="xyxy"),
                              spec["repeats"], spec["warmup"])
            results[key] = {"times_ms": times}
        except Exception as exc:  # one model's failure must not hide the others' times
            results[key] = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps({"version": mmpose.__version__, "torch": torch.__version__, "results": results}))


if __name__ == "__main__":
    main()
