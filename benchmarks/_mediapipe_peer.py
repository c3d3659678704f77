"""Peer side of bench_mediapipe.py: times MediaPipe's own runtime on the given images.

Runs inside a separate virtual environment that has ``mediapipe==0.10.14`` (it pins protobuf < 5 and
numpy < 2, so it cannot share posekit's environment). Prints one JSON object on stdout.
Usage: python _mediapipe_peer.py --repeats 20 IMAGE...
"""

import argparse
import json
import statistics

import cv2
import mediapipe as mp
from _timing import sample_ms


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("images", nargs="+")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    images = [cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB) for p in args.images]
    per_image = {}
    landmarks = {}
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as pose:
        for path, img in zip(args.images, images):
            per_image[path] = statistics.median(sample_ms(lambda: pose.process(img), args.repeats, args.warmup))
            res = pose.process(img)
            if res.pose_landmarks is not None:
                h, w = img.shape[:2]
                landmarks[path] = [[lm.x * w, lm.y * h] for lm in res.pose_landmarks.landmark]
    print(json.dumps({"version": mp.__version__, "median_ms": per_image, "landmarks_px": landmarks}))


if __name__ == "__main__":
    main()
