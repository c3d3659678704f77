"""YOLOX in PyTorch proven on the official ``yolox_nano.onnx`` (BN-folded export of ``yolox_nano.pth``): the
module with the ONNX weights loaded reproduces ONNX Runtime's raw outputs on real COCO images, the detector's person
boxes equal those decoded from ONNX Runtime's outputs, and it finds the annotated people of the OpenPose examples."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from PIL import Image

from posekit.detect import Detector
from posekit.detect.yolox import (
    Transform,
    YOLOXDetector,
    decode,
    postprocess,
    preprocess,
    yolox_detector,
)
from posekit.models.yolox import VARIANTS, YOLOX, yolox
from posekit.runtime._ort_session import open_session
from tests.conftest import coco_person_boxes, matched_ious, shared_path
from tests.models.onnx_weights import conv_order, onnx_convs, state_dict_from_onnx

COCO = ("data", "coco")
IMAGES = ("COCO_val2014_000000000328.jpg", "COCO_val2014_000000000395.jpg")


def _onnx_path():
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    return shared_path("weights", "yolox_nano.onnx")


def _image(name: str) -> np.ndarray:
    return np.asarray(Image.open(shared_path(*COCO, "openpose_examples", name)).convert("RGB"))


@functools.cache
def _nano() -> YOLOX:
    model = yolox("nano")
    model.load_state_dict(state_dict_from_onnx(model, _onnx_path(), size=416), strict=True)
    return model.eval()


@functools.cache
def _session():
    import onnxruntime as ort

    # posekit's session opener: other tests in this process may have made ONNX Runtime's shared thread pool
    return open_session(_onnx_path(), ort.SessionOptions(), ["CPUExecutionProvider"])


# --- architecture ---

@pytest.mark.parametrize(("variant", "millions"), [("nano", 0.91), ("tiny", 5.06), ("s", 8.97), ("m", 25.3),
                                                   ("l", 54.2), ("x", 99.1)])
def test_parameter_counts_match_the_official_table(variant: str, millions: float) -> None:
    """Params of the YOLOX README's model table (80 classes)."""
    n = sum(p.numel() for p in yolox(variant).parameters()) / 1e6
    assert abs(n - millions) / millions < 0.01, n


def test_unknown_variant_and_bad_input_are_named() -> None:
    with pytest.raises(KeyError, match="'q'.*nano"):
        yolox("q")
    with pytest.raises(ValueError, match=r"multiples of 32, got \(1, 3, 100, 96\)"):
        yolox("nano")(torch.zeros(1, 3, 100, 96))


def test_state_dict_has_the_official_keys_and_shapes() -> None:
    """Keys as in Megvii's ``yolox/models`` (YOLOX -> YOLOPAFPN.backbone CSPDarknet / YOLOXHead), nano shapes; every
    conv of the official ONNX export, in graph order, has the shape of ours in forward order."""
    sd = yolox("nano").state_dict()
    expected = {
        "backbone.backbone.stem.conv.conv.weight": (16, 12, 3, 3),
        "backbone.backbone.stem.conv.bn.running_var": (16,),
        "backbone.backbone.dark2.0.dconv.conv.weight": (16, 1, 3, 3),
        "backbone.backbone.dark2.0.pconv.conv.weight": (32, 16, 1, 1),
        "backbone.backbone.dark2.1.m.0.conv2.dconv.conv.weight": (16, 1, 3, 3),
        "backbone.backbone.dark3.1.m.2.conv1.conv.weight": (32, 32, 1, 1),
        "backbone.backbone.dark5.1.conv1.conv.weight": (128, 256, 1, 1),
        "backbone.backbone.dark5.1.conv2.conv.weight": (256, 512, 1, 1),
        "backbone.backbone.dark5.2.conv3.bn.num_batches_tracked": (),
        "backbone.lateral_conv0.conv.weight": (128, 256, 1, 1),
        "backbone.C3_p4.conv1.conv.weight": (64, 256, 1, 1),
        "backbone.reduce_conv1.bn.bias": (64,),
        "backbone.bu_conv2.dconv.conv.weight": (64, 1, 3, 3),
        "backbone.C3_n4.conv3.conv.weight": (256, 256, 1, 1),
        "head.stems.2.conv.weight": (64, 256, 1, 1),
        "head.cls_convs.0.1.pconv.bn.running_mean": (64,),
        "head.reg_convs.1.0.dconv.conv.weight": (64, 1, 3, 3),
        "head.cls_preds.2.weight": (80, 64, 1, 1),
        "head.reg_preds.0.bias": (4,),
        "head.obj_preds.1.weight": (1, 64, 1, 1),
    }
    for key, shape in expected.items():
        assert tuple(sd[key].shape) == shape, key
    # 113 convs: 104 with a batch norm (5 entries each), 9 prediction convs with a bias
    assert len(sd) == 104 * 6 + 9 * 2 == 642
    assert not [k for k in sd if not k.startswith(("backbone.backbone.", "backbone.", "head."))]
    model = yolox("nano")
    order = conv_order(model, 416)
    shapes = [w.shape for _, w, _ in onnx_convs(_onnx_path())]
    assert [tuple(model.get_submodule(n).weight.shape) for n in order] == shapes


def test_onnx_output_is_raw_boxes_and_sigmoid_scores() -> None:
    """The official export applies the sigmoid to objectness and classes inside the graph (so does our head)."""
    x, _ = preprocess(_image(IMAGES[0]))
    ref = _session().run(None, {"images": x[None]})[0]
    assert ref.shape == (1, 3549, 85)
    assert ref[..., 4:].min() >= 0 and ref[..., 4:].max() <= 1 and ref[..., 4].max() > 0.9
    assert ref[..., :4].min() < -1  # box regressions are raw


@pytest.mark.parametrize("name", IMAGES)
def test_raw_outputs_equal_onnxruntime(name: str) -> None:
    x, _ = preprocess(_image(name))
    ref = _session().run(None, {"images": x[None]})[0]
    with torch.no_grad():
        got = _nano()(torch.from_numpy(x[None])).numpy()
    assert got.shape == ref.shape
    err = np.abs(got - ref).max() / np.abs(ref).max()
    assert err < 1e-4, err  # measured 3.4e-5 (328) and 1.2e-5 (395)


# --- decoding ---

def test_decode_by_hand() -> None:
    raw = np.zeros((3549, 85))
    raw[2704 + 26 + 3, :4] = [0.5, 0.25, np.log(2.0), 0.0]  # stride 16, column 3, row 1
    boxes = decode(raw)
    np.testing.assert_allclose(boxes[0], [-4, -4, 4, 4])
    np.testing.assert_allclose(boxes[2704 + 26 + 3], [56 - 16, 20 - 8, 56 + 16, 20 + 8])
    np.testing.assert_allclose(boxes[3548], [12 * 32 - 16, 12 * 32 - 16, 12 * 32 + 16, 12 * 32 + 16])
    np.testing.assert_array_equal(decode(raw, cells=np.array([2733, 0])), boxes[[2733, 0]])
    with pytest.raises(ValueError, match=r"\(3549, >= 4\) for a 416 input"):
        decode(raw[:10])


def test_postprocess_scores_are_objectness_times_class() -> None:
    out = np.zeros((3549, 85), np.float32)
    out[0, :4] = [10, 10, 0, 0]  # centre (80, 80), 8 x 8 input pixels
    out[0, 4], out[0, 5], out[0, 6] = 0.8, 0.5, 0.9
    det = postprocess(out, image_size=(400, 400), transform=Transform((0.5, 0.5)), score_threshold=0.3, iou_threshold=0.5)
    np.testing.assert_allclose(det.scores, [0.4], rtol=1e-6)
    np.testing.assert_allclose(det.boxes, [[152, 152, 168, 168]])  # input (76, 76, 84, 84) / 0.5
    assert det.labels.tolist() == [0]
    clipped = postprocess(out, image_size=(160, 400), transform=Transform((0.5, 0.5)), score_threshold=0.3,
                          iou_threshold=0.5)
    np.testing.assert_allclose(clipped.boxes, [[152, 152, 160, 168]])
    assert len(postprocess(out, image_size=(400, 400), transform=Transform((0.5, 0.5)), score_threshold=0.41,
                           iou_threshold=0.5)) == 0
    every = postprocess(out, image_size=(400, 400), transform=Transform((0.5, 0.5)), score_threshold=0.3,
                        iou_threshold=0.5, classes=None)
    assert every.labels.tolist() == [1, 0]
    np.testing.assert_allclose(every.scores, [0.72, 0.4], rtol=1e-6)
    np.testing.assert_allclose(every.boxes[0], [152, 152, 168, 168])


def test_preprocess_letterbox_top_left_bgr_pad_114() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    image[..., 0] = 200  # red
    x, tf = preprocess(image)
    assert x.shape == (3, 416, 416) and x.dtype == np.float32 and tf.scale == (0.65, 0.65)
    assert (x[2, :312] == 200).all() and (x[:2, :312] == 0).all()  # BGR: red is the last channel
    assert (x[:, 312:] == 114).all()
    np.testing.assert_allclose(tf.to_image([[0, 0, 416, 312]]), [[0, 0, 640, 480]])


# --- the detector on real images ---

@functools.cache
def _detector(backend: str = "torch") -> YOLOXDetector:
    module = _nano() if backend == "torch" else _onnx_path()
    return YOLOXDetector(module, backend=backend)


@pytest.mark.parametrize("name", IMAGES)
def test_person_boxes_equal_onnxruntime(name: str) -> None:
    image = _image(name)
    got, want = _detector("torch")(image), _detector("onnxruntime")(image)
    assert isinstance(_detector("torch"), Detector)
    assert len(got) == len(want) >= 3 and (got.labels == 0).all() and (got.scores >= 0.3).all()
    np.testing.assert_allclose(got.boxes, want.boxes, rtol=0, atol=0.05)
    np.testing.assert_allclose(got.scores, want.scores, rtol=0, atol=1e-4)


def test_detect_batch_equals_single_images() -> None:
    images = [_image(n) for n in IMAGES]
    batch = _detector("torch").detect_batch(images)
    for im, det in zip(images, batch):
        single = _detector("torch")(im)
        np.testing.assert_allclose(det.boxes, single.boxes, atol=1e-3)
    assert _detector("torch").detect_batch([]) == []


def test_recall_on_openpose_examples() -> None:
    """Score 0.3, NMS IoU 0.45: 41 of the 48 annotated people of the 18 images matched one-to-one at IoU >= 0.5
    (torch and ONNX Runtime alike; measured; the missed ones are 7 small or occluded people in 4 images)."""
    images, boxes = coco_person_boxes("openpose_examples_keypoints.json")
    detector = _detector("torch")
    found = total = 0
    for im in images:
        gt = boxes[im["id"]]
        det = detector(_image(im["file_name"]))
        found += int((matched_ious(gt, det.boxes) >= 0.5).sum())
        total += len(gt)
    assert total == 48
    assert found >= 41, f"recall {found}/{total}"


def test_detector_options_are_checked() -> None:
    model = yolox("nano")
    with pytest.raises(ValueError, match="classes must be COCO class ids"):
        YOLOXDetector(model, classes=(80,))
    with pytest.raises(ValueError, match="multiple of 32"):
        YOLOXDetector(model, size=400)
    assert yolox_detector(yolox("s")).size == 640 and VARIANTS["s"].input_size == 640
    with pytest.raises(ValueError, match="at least 2 pixels"):
        YOLOXDetector(model)(np.zeros((1, 50, 3), np.uint8))
