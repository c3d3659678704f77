"""MediaPipe side of ``posekit bench``: ``mp.solutions.pose`` on the benchmark images.

Runs under the Python of a virtual environment with ``mediapipe==0.10.14`` (not posekit's: MediaPipe pins
protobuf < 5), started by :func:`posekit.bench.peers.run_peer`. Imports only the standard library, MediaPipe,
OpenCV and posekit's ``posekit/bench/timing.py`` (standard library only; found
through this checkout's path, posekit itself is not imported).

stdin: ``{"images": [path, ...], "repeats": int, "warmup": int}`` (PNG copies of the RGB images posekit times).
stdout, last line: ``{"version": str, "times_ms": [ms per pass over all images, ...],
"landmarks_px": [[[x, y] * 33] or null per image]}`` (image pixels, x right, y down).
Static image mode (detector and landmark model on every image) with model complexity 1 (``pose_landmark_full``).
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
    import cv2
    import mediapipe as mp

    spec = json.loads(sys.stdin.read())
    images = [cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB) for p in spec["images"]]
    landmarks = []
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as pose:
        times = sample_ms(lambda: [pose.process(img) for img in images], spec["repeats"], spec["warmup"])
        for img in images:
            res = pose.process(img)
            h, w = img.shape[:2]
            landmarks.append(None if res.pose_landmarks is None
                             else [[lm.x * w, lm.y * h] for lm in res.pose_landmarks.landmark])
    print(json.dumps({"version": mp.__version__, "times_ms": times, "landmarks_px": landmarks}))


if __name__ == "__main__":
    main()
