"""rtmlib side of ``benchmarks/bench_default_pipeline.py``: rtmlib's two-stage ``Body`` pipeline (RTMDet-nano person
detector + RTMPose-m), whole images in, keypoints out, timed per image.

Runs under the Python of a virtual environment with rtmlib and onnxruntime (``benchmarks/setup_rtmlib_peer.sh``),
started by :func:`posekit.bench.peers.run_peer`. Imports only the standard library, rtmlib, ONNX Runtime, NumPy,
OpenCV and posekit's ``posekit/bench/timing.py`` (standard library only).

stdin: ``{"det_onnx": path, "det_input_size": [w, h], "pose_onnx": path, "pose_input_size": [w, h], "images":
[path, ...], "threads": int, "repeats": int, "warmup": int}``.
stdout, last line: ``{"version": str, "runtime": str, "ms_per_image": [median ms of each image], "persons": [n per
image]}``.

What ``rtmlib.Body(mode="balanced")`` does, with the RTMDet-nano person detector in place of its YOLOX-m (rtmlib's
``Body`` always builds its detector as ``YOLOX``, which does not apply RTMDet's mean/std): ``RTMDet`` (keep-ratio
resize, pad 114, mean/std, score > 0.3) then ``RTMPose(bboxes=...)`` on the boxes it finds, one ONNX Runtime session
each with ``intra_op_num_threads = threads`` and the CPU provider (rtmlib's own sessions use every core).
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
    from rtmlib import RTMDet, RTMPose

    spec = json.loads(sys.stdin.read())
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(spec["threads"])
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    det = RTMDet(spec["det_onnx"], model_input_size=tuple(spec["det_input_size"]), backend="onnxruntime",
                 device="cpu")
    pose = RTMPose(spec["pose_onnx"], model_input_size=tuple(spec["pose_input_size"]), backend="onnxruntime",
                   device="cpu")
    for model, path in ((det, spec["det_onnx"]), (pose, spec["pose_onnx"])):
        model.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])

    def body(image):  # rtmlib.Body.__call__ for a two-stage pipeline
        boxes = det(image)
        keypoints, scores = pose(image, bboxes=boxes)
        return keypoints, scores

    times, persons = [], []
    for path in spec["images"]:
        image = cv2.imread(path)  # rtmlib takes OpenCV's BGR images
        times.append(float(np.median(sample_ms(lambda: body(image), spec["repeats"], spec["warmup"]))))
        persons.append(len(det(image)))
    print(json.dumps({"version": version("rtmlib"), "runtime": f"onnxruntime {ort.__version__}",
                      "ms_per_image": times, "persons": persons}))


if __name__ == "__main__":
    main()
