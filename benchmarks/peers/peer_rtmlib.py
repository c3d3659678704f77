"""rtmlib side of ``posekit bench``: rtmlib's ``RTMPose`` on posekit's exported ONNX file, same image and boxes.

Runs under the Python of a virtual environment with rtmlib and onnxruntime, started by
:func:`posekit.bench.peers.run_peer`. Imports only the standard library, rtmlib, ONNX Runtime, NumPy, OpenCV and
posekit's ``posekit/bench/timing.py`` (standard library only; found
through this checkout's path, posekit itself is not imported).

stdin: ``{"onnx": path, "image": path, "boxes": [[x1, y1, x2, y2], ...], "input_size": [w, h], "mean": [3],
"std": [3], "threads": int, "repeats": int, "warmup": int}``.
stdout, last line: ``{"version": str, "runtime": str, "times_ms": [ms per call, ...], "keypoints": (N, K, 2)
image pixels}``.

Equal work with posekit: rtmlib is given the RGB image (it does not convert colours, so its network sees the
same values as posekit's), runs the ONNX file once per box, no flip test; its ONNX Runtime session is rebuilt
with ``intra_op_num_threads = threads`` (rtmlib's own uses every core) and the CPU provider.
"""

import json
import sys
from pathlib import Path

_TIMING = Path(__file__).resolve().parents[2] / "posekit" / "bench"  # posekit's timing.py (stdlib only)
sys.path.insert(0, str(_TIMING))
from timing import sample_ms  # noqa: E402

# neither posekit/bench/ nor this folder may shadow the peer's own packages
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() not in (_TIMING, Path(__file__).resolve().parent)]


def main() -> None:
    from importlib.metadata import version

    import cv2
    import numpy as np
    import onnxruntime as ort
    from rtmlib import RTMPose

    spec = json.loads(sys.stdin.read())
    rgb = cv2.cvtColor(cv2.imread(spec["image"]), cv2.COLOR_BGR2RGB)
    model = RTMPose(onnx_model=spec["onnx"], model_input_size=tuple(spec["input_size"]), mean=tuple(spec["mean"]),
                    std=tuple(spec["std"]), backend="onnxruntime", device="cpu")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(spec["threads"])
    opts.log_severity_level = 3
    model.session = ort.InferenceSession(spec["onnx"], opts, providers=["CPUExecutionProvider"])
    boxes = [list(map(float, b)) for b in spec["boxes"]]
    times = sample_ms(lambda: model(rgb, bboxes=boxes), spec["repeats"], spec["warmup"])
    keypoints, _ = model(rgb, bboxes=boxes)
    print(json.dumps({"version": version("rtmlib"), "runtime": f"onnxruntime {ort.__version__}", "times_ms": times,
                      "keypoints": np.asarray(keypoints, np.float64).tolist()}))


if __name__ == "__main__":
    main()
