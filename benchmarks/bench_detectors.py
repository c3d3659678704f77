"""Speed of posekit's RTMDet-nano person and YOLOX-nano detectors against ONNX Runtime on the same ONNX file, in one
run, same images, same threads (issue #17's speed figures in ``docs/results.md``).

The real weights are those of ``../shared/weights`` (BN-folded ONNX exports of the official checkpoints), saved as
official checkpoint files by the test tool :mod:`tests.models.onnx_weights` and loaded the user's way
(``create_detector(name, weights=PATH)``). For each of the 20 COCO images of ``openpose_examples``, the median wall
time of ``repeats`` calls after ``warmup``:

* **posekit torch** / **posekit ORT**: the whole detector call (resize + pad, network, decoding, NMS), on the torch back
  end and on ONNX Runtime running posekit's own export of the network (``backend="onnxruntime"``);
* **ORT file**: the same preprocessing, then ONNX Runtime on the published ONNX file, then what the file leaves to do
  (YOLOX: posekit's grid decoding and NMS; the RTMDet export decodes and runs NMS inside the graph);
* **network**: the network alone on the preprocessed input: posekit's torch runner (eager, channels_last, inference
  mode) vs ONNX Runtime on the published file.

Ratio = posekit ms / ORT-file ms (< 1: posekit is faster).

    python benchmarks/bench_detectors.py [--threads 2] [--repeats 5] [--warmup 2] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test tool that writes the real weights as official checkpoints

import posekit  # noqa: E402
from posekit.bench.timing import sample_ms  # noqa: E402
from posekit.detect import create_detector  # noqa: E402
from posekit.detect.yolox import postprocess as yolox_postprocess  # noqa: E402
from posekit.runtime._ort_session import open_session  # noqa: E402
from posekit.runtime.threads import configure_threads  # noqa: E402
from tests.models.onnx_weights import save_official  # noqa: E402

SHARED = ROOT.parent / "shared"
DETECTORS = {"rtmdet_nano_person": ("rtmdet_nano_320_person_end2end.onnx", "input", "state_dict"),
             "yolox_nano": ("yolox_nano.onnx", "images", "model")}


def _median(fn, repeats: int, warmup: int) -> float:
    return float(np.median(sample_ms(fn, repeats, warmup)))


def bench(name: str, images: list[np.ndarray], folder: Path, shared: Path, threads: int, repeats: int,
          warmup: int) -> dict:
    import onnxruntime as ort

    onnx_file, input_name, container = DETECTORS[name]
    onnx_path = shared / "weights" / onnx_file
    weights = save_official(posekit.create_model(name), folder / f"{name}.pth", onnx_path,
                            size=posekit.create_model(name).config.input_size, container=container)
    ours = create_detector(name, weights=weights)
    ours_ort = create_detector(name, weights=weights, backend="onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = open_session(onnx_path, options, ["CPUExecutionProvider"])

    def file_call(rgb: np.ndarray) -> None:
        x, tf = ours.preprocess(rgb)
        out = session.run(None, {input_name: x[None]})
        if name.startswith("yolox"):
            yolox_postprocess(out[0][0], image_size=(rgb.shape[1], rgb.shape[0]), transform=tf, size=ours.size,
                              score_threshold=ours.score_threshold, iou_threshold=ours.iou_threshold,
                              classes=ours.classes, max_detections=ours.max_detections)

    row: dict = {"detector": name, "onnx": onnx_file, "size": ours.size}
    # ONNX Runtime first: PyTorch's OpenMP workers keep spinning a moment after each call and would slow it down
    for key, fn in (("ort_file", file_call), ("posekit_ort", lambda im: ours_ort(im)),
                    ("posekit_torch", lambda im: ours(im))):
        row[key] = float(np.median([_median(lambda: fn(im), repeats, warmup) for im in images]))
    x = ours.preprocess(images[0])[0][None]
    row["network_ort_file"] = _median(lambda: session.run(None, {input_name: x}), repeats * 3, warmup)
    row["network_torch"] = _median(lambda: ours.runner(x), repeats * 3, warmup)  # posekit's torch runner
    row["ratio"] = row["posekit_torch"] / row["ort_file"]
    row["ratio_ort"] = row["posekit_ort"] / row["ort_file"]
    row["ratio_network"] = row["network_torch"] / row["network_ort_file"]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    threads = configure_threads(args.threads)
    paths = sorted((args.shared / "data" / "coco" / "openpose_examples").glob("*.jpg"))
    images = [posekit.load_image(p) for p in paths]
    load = os.getloadavg()[0]
    print(f"# {len(images)} images, {threads} threads, load average {load:.2f} (before the run)")
    print("| detector | posekit torch ms | posekit ORT ms | ORT on the file ms | ratio torch / file | ratio ORT / file "
          "| network: torch / file ms |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in DETECTORS:
            r = bench(name, images, Path(tmp), args.shared, threads, args.repeats, args.warmup)
            rows.append(r)
            print(f"| {name} | {r['posekit_torch']:.1f} | {r['posekit_ort']:.1f} | {r['ort_file']:.1f} | "
                  f"{r['ratio']:.2f} | {r['ratio_ort']:.2f} | {r['network_torch']:.1f} / {r['network_ort_file']:.1f} "
                  f"({r['ratio_network']:.2f}) |")
    if args.json is not None:
        args.json.write_text(json.dumps({"threads": threads, "load_average": load, "images": len(images),
                                         "repeats": args.repeats, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
