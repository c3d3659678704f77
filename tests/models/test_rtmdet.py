"""RTMDet-nano (person) in PyTorch against the real MMDeploy export ``rtmdet_nano_320_person_end2end.onnx``.

The ONNX graph holds the BN-folded network plus decoding and NMS. The tests load the graph's convolution initializers
into our module as an official-layout state dict (:mod:`tests.models.onnx_weights`: convs matched in execution
order, shapes checked), run ONNX Runtime on a copy of the graph whose outputs are the intermediate tensors before
NMS, and compare; then the decoded detections and the recall on the 18 OpenPose examples' ground-truth person boxes.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from PIL import Image

from posekit.boxes import box_iou
from posekit.detect import Detector
from posekit.detect.rtmdet import (
    RTMDetDetector,
    Transform,
    decode,
    flatten,
    postprocess,
    preprocess,
    priors,
)
from posekit.models.rtmdet import RTMDet, rtmdet
from posekit.runtime._ort_session import open_session
from tests.conftest import coco_person_boxes, matched_ious, shared_path
from tests.models.onnx_weights import state_dict_from_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

IMAGES = ("COCO_val2014_000000000328.jpg", "COCO_val2014_000000000192.jpg")
# per level: cls logits (strides 8, 16, 32), then distances * stride; then the decoded (B, N, 1) scores and (B, N, 4)
# boxes of all levels; then the graph's own outputs after NMS
RAW = ("y", "y.8", "y.16", "y.4", "y.12", "y.20")
DECODED = ("y.24", "y.28")
RTOL = 1e-4  # |diff| <= RTOL * max|ref|


def _onnx_path():
    return shared_path("weights", "rtmdet_nano_320_person_end2end.onnx")


def _image(name: str) -> np.ndarray:
    return np.asarray(Image.open(shared_path("data", "coco", "openpose_examples", name)).convert("RGB"))


@functools.cache
def _models() -> tuple[RTMDet, object]:
    model = onnx.load(str(_onnx_path()))
    torch_model = rtmdet("nano", num_classes=1)
    torch_model.load_state_dict(state_dict_from_onnx(torch_model, _onnx_path(), size=320), strict=True)
    for name in RAW + DECODED:
        model.graph.output.append(onnx.ValueInfoProto(name=name))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = open_session(model.SerializeToString(), opts, ["CPUExecutionProvider"])  # shares a pool made earlier
    return torch_model.eval(), session


def _run_both(name: str):
    model, session = _models()
    x, tf = preprocess(_image(name))
    refs = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"input": x[None]})))
    with torch.no_grad():
        got = [t.numpy() for t in model(torch.from_numpy(x[None]))]
    return got, refs, tf


def test_layout_and_sizes():
    model = rtmdet("nano", num_classes=1)
    keys = list(model.state_dict())
    for key in ("backbone.stem.0.conv.weight", "backbone.stage1.0.depthwise_conv.conv.weight",
                "backbone.stage4.1.conv1.bn.running_var", "backbone.stage4.2.attention.fc.weight",
                "neck.reduce_layers.0.conv.weight", "neck.top_down_blocks.1.blocks.0.conv1.pointwise_conv.conv.weight",
                "neck.downsamples.0.depthwise_conv.conv.weight", "neck.bottom_up_blocks.1.final_conv.bn.weight",
                "neck.out_convs.2.pointwise_conv.conv.weight", "bbox_head.cls_convs.2.1.depthwise_conv.conv.weight",
                "bbox_head.reg_convs.0.0.pointwise_conv.bn.bias", "bbox_head.rtm_cls.0.weight",
                "bbox_head.rtm_reg.2.bias"):
        assert key in keys, key
    # parameter counts published for RTMDet (MMDet 3.x README, 80 classes) and the person nano (weights README)
    assert sum(p.numel() for p in model.parameters()) == 994423
    published = {"s": 8.89, "m": 24.71, "l": 52.3}  # tiny: 4.90 M here, the README says 4.8
    for variant, millions in published.items():
        assert sum(p.numel() for p in rtmdet(variant).parameters()) / 1e6 == pytest.approx(millions, abs=0.03)
    shared = rtmdet("s")  # share_conv: levels share level 0's convs, own BatchNorms
    assert shared.bbox_head.cls_convs[2][1].conv is shared.bbox_head.cls_convs[0][1].conv
    assert shared.bbox_head.cls_convs[2][1].bn is not shared.bbox_head.cls_convs[0][1].bn
    with torch.no_grad():
        outs = rtmdet("tiny", num_classes=80)(torch.zeros(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(2, 80, 8, 12), (2, 80, 4, 6), (2, 80, 2, 3),
                                              (2, 4, 8, 12), (2, 4, 4, 6), (2, 4, 2, 3)]
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.zeros(1, 3, 50, 64))
    with pytest.raises(KeyError, match="unknown RTMDet variant"):
        rtmdet("x")


@pytest.mark.parametrize("name", IMAGES)
def test_raw_outputs_match_onnxruntime(name):
    got, refs, _ = _run_both(name)
    for out, key in zip(got, RAW):
        ref = refs[key]
        assert out.shape == ref.shape
        err = np.abs(out - ref).max()
        assert err <= RTOL * np.abs(ref).max(), f"{key}: max |diff| {err} vs max |ref| {np.abs(ref).max()}"
    scores, dists = flatten(got)
    boxes = decode(dists[0], priors(320, 320))
    np.testing.assert_allclose(scores, refs["y.24"], rtol=0, atol=RTOL)
    ref_boxes = refs["y.28"][0]
    assert np.abs(boxes - ref_boxes).max() <= RTOL * np.abs(ref_boxes).max()


@pytest.mark.parametrize("name", IMAGES)
def test_detections_match_onnx_dets(name):
    got, refs, _ = _run_both(name)
    dets = refs["dets"][0]
    ref = dets[dets[:, 4] >= 0.3]
    scores, dists = flatten(got)
    ours = postprocess(scores[0], dists[0], priors(320, 320), image_size=(320, 320), transform=Transform((1.0, 1.0)),
                       score_threshold=0.3, iou_threshold=0.6, classes=(0,))
    assert len(ref) >= 1 and len(ours.boxes) == len(ref)
    iou = box_iou(ours.boxes.astype(np.float64), np.clip(ref[:, :4], 0, 320).astype(np.float64))
    assert np.diag(iou).min() > 0.99, np.diag(iou)
    np.testing.assert_allclose(ours.scores, ref[:, 4], atol=1e-4)


# Persons (non-crowd GT boxes, all 48 of the 18 images) matched one-to-one at IoU >= 0.5. The ONNX graph itself, run
# end to end on our preprocessing, finds the same (43/48 at 0.3, 33/48 at 0.5). The weights README's 39/44 and 31/44
# count 44 persons; restricted to the 44 GT persons with >= 5 labelled keypoints this gives 40/44 and 32/44.
RECALL = {0.3: 43, 0.5: 33}


@pytest.mark.parametrize("threshold", sorted(RECALL))
def test_detector_recall_on_openpose_examples(threshold):
    model, session = _models()
    detector = RTMDetDetector(model, score_threshold=threshold)
    assert isinstance(detector, Detector)
    images, gt = coco_person_boxes("openpose_examples_keypoints.json")
    pictures = [_image(im["file_name"]) for im in images]
    found = 0
    for im, picture, dets in zip(images, pictures, detector.detect_batch(pictures)):
        w, h = im["width"], im["height"]
        assert np.all(dets.labels == 0) and np.all(dets.scores >= threshold)
        assert np.all(dets.boxes >= 0) and np.all(dets.boxes[:, 2:] <= [w, h])
        found += int((matched_ious(gt[im["id"]], dets.boxes.astype(np.float64)) >= 0.5).sum())
        # the same boxes as the exported graph's own decoding + NMS, mapped back to the image
        x, tf = preprocess(picture)
        ref = session.run(["dets"], {"input": x[None]})[0][0]
        ref = ref[ref[:, 4] >= threshold]
        ref_boxes = np.clip(tf.to_image(ref[:, :4]), 0, [w, h, w, h])
        assert len(dets.boxes) == len(ref_boxes), im["file_name"]
        if len(ref_boxes):
            assert np.diag(box_iou(dets.boxes.astype(np.float64), ref_boxes)).min() > 0.99, im["file_name"]
    total = sum(len(v) for v in gt.values())
    assert (found, total) == (RECALL[threshold], 48)


def test_preprocess_keeps_ratio_and_pads():
    image = np.zeros((100, 200, 3), np.uint8)
    image[..., 0] = 255  # red in RGB
    x, tf = preprocess(image)
    assert x.shape == (3, 320, 320) and x.dtype == np.float32
    assert tf.scale == (1.6, 1.6)
    red = (np.array([0, 0, 255]) - [103.53, 116.28, 123.675]) / [57.375, 57.12, 58.395]  # BGR order
    pad = (114 - np.array([103.53, 116.28, 123.675])) / [57.375, 57.12, 58.395]
    np.testing.assert_allclose(x[:, 10, 10], red, rtol=1e-6)
    np.testing.assert_allclose(x[:, 200, 10], pad, rtol=1e-6)  # rows >= 160 are padding
    np.testing.assert_allclose(tf.to_image(np.array([[16.0, 16.0, 320.0, 160.0]])), [[10, 10, 200, 100]])
    p = priors(64, 64)
    assert p.shape == (64 + 16 + 4, 3)
    np.testing.assert_array_equal(p[[0, 1, 8, 64, 65]], [[0, 0, 8], [8, 0, 8], [0, 8, 8], [0, 0, 16], [16, 0, 16]])
    with pytest.raises(ValueError):
        preprocess(np.zeros((10, 10), np.uint8))
