"""rtmlib side of ``benchmarks/bench_rtmo.py``: rtmlib's one-stage ``RTMO`` on whole images, timed per image.

Runs under the Python of a virtual environment with rtmlib and onnxruntime (``benchmarks/setup_rtmlib_peer.sh``),
started by :func:`posekit.bench.peers.run_peer`. Imports only the standard library, rtmlib, ONNX Runtime, NumPy,
OpenCV and posekit's ``posekit/bench/timing.py`` (standard library only).

stdin: ``{"onnx": path, "input_size": [w, h], "images": [path, ...], "threads": int, "repeats": int, "warmup": int}``
(``onnx``: the MMDeploy end-to-end export of an official RTMO checkpoint that rtmlib itself downloads, outputs
``dets`` (1, N, 5) and ``keypoints`` (1, N, 17, 3)).
stdout, last line: ``{"version": str, "runtime": str, "ms_per_image": [median ms of each image], "persons": [n per
image]}``.
"""

import json
import sys
from pathlib import Path

_TIMING = Path(__file__).resolve().parents[2] / "posekit" / "bench"  # posekit's timing.py (stdlib only)
sys.path.insert(0, str(_TIMING))
from timing import sample_ms  # noqa: E402

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() not in (_TIMING, Path(__file__).resolve().parent)]


def main() -> None:
    from importlib.metadata import version

    import cv2
    import numpy as np
    import onnxruntime as ort
    from rtmlib import RTMO

    spec = json.loads(sys.stdin.read())
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(spec["threads"])
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    model = RTMO(spec["onnx"], model_input_size=tuple(spec["input_size"]), backend="onnxruntime", device="cpu")
    model.session = ort.InferenceSession(spec["onnx"], opts, providers=["CPUExecutionProvider"])
    times, persons = [], []
    for path in spec["images"]:
        image = cv2.imread(path)  # rtmlib takes OpenCV's BGR images
        times.append(float(np.median(sample_ms(lambda: model(image), spec["repeats"], spec["warmup"]))))
        persons.append(int(len(model(image)[0])))
    print(json.dumps({"version": version("rtmlib"), "runtime": f"onnxruntime {ort.__version__}",
                      "ms_per_image": times, "persons": persons}))


if __name__ == "__main__":
    main()
