"""MMPose side of bench_topdown.py; runs inside a venv with mmpose==1.3.2 (not posekit's).

Reads a JSON spec on stdin (image, boxes, batches, threads, repeats, warmup, configs {key: config path relative to
mmpose's .mim/configs}) and prints one JSON line: {key: {batch: {e2e_ms_per_person, forward_ms_per_image}}}.
Models get random weights (``init_model(cfg, None)``), as posekit's side; the config's test pipeline and flip test.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from _timing import sample_ms


def main() -> None:
    import cv2
    import mmpose
    import numpy as np
    import torch
    from mmpose.apis import inference_topdown, init_model

    spec = json.loads(sys.stdin.read())
    torch.set_num_threads(int(spec["threads"]))
    configs = Path(mmpose.__file__).parent / ".mim" / "configs"
    img = cv2.imread(spec["image"])
    boxes = np.asarray(spec["boxes"], np.float32)
    out: dict = {}
    for key, cfg in spec["configs"].items():
        model = init_model(str(configs / cfg), None, device="cpu")
        out[key] = {}
        for batch in spec["batches"]:
            b = np.resize(boxes, (batch, 4))
            e2e = statistics.median(sample_ms(lambda: inference_topdown(model, img, b, bbox_format="xyxy"), spec["repeats"], spec["warmup"]))
            x = torch.randn(batch, 3, 256, 192)
            with torch.no_grad():
                fwd = statistics.median(sample_ms(lambda: model(x, None, mode="tensor"), spec["repeats"], spec["warmup"]))
            out[key][str(batch)] = {"e2e_ms_per_person": e2e / batch, "forward_ms_per_image": fwd / batch}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
