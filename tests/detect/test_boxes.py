"""Boxes given by the caller or read from COCO-style detection files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.detect import BoxesFromFile, Detector, FixedBoxes
from tests.conftest import shared_path

IMAGE = np.zeros((20, 30, 3), np.uint8)


def _write(tmp_path, data, name="dets.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_fixed_boxes():
    det = FixedBoxes([[1, 2, 11, 22], [0, 0, 5, 5]], scores=[0.5, 1.0])
    assert isinstance(det, Detector)
    out = det(IMAGE)
    np.testing.assert_array_equal(out.boxes, [[1, 2, 11, 22], [0, 0, 5, 5]])
    np.testing.assert_array_equal(out.scores, np.float32([0.5, 1.0]))
    assert [len(d) for d in det.detect_batch([IMAGE, IMAGE])] == [2, 2]
    assert len(FixedBoxes(np.zeros((0, 4)))(IMAGE)) == 0
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        FixedBoxes([1, 2, 3])
    with pytest.raises(ValueError, match="x2 >= x1"):
        FixedBoxes([[10, 0, 5, 5]])
    with pytest.raises(ValueError, match="uint8"):
        det(IMAGE.astype(np.float32))
    with pytest.raises(ValueError, match="empty"):
        det(np.zeros((0, 4, 3), np.uint8))


def test_results_list_by_id_and_file_name(tmp_path):
    path = _write(tmp_path, [
        {"image_id": 7, "category_id": 1, "bbox": [10, 20, 30, 40], "score": 0.9, "file_name": "a.jpg"},
        {"image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.2},
        {"image_id": 7, "category_id": 3, "bbox": [1, 1, 2, 2], "score": 0.99},
        {"image_id": 8, "bbox": [1, 2, 3, 4]},
    ])
    boxes = BoxesFromFile(path)
    out = boxes(IMAGE, key=7)
    np.testing.assert_allclose(out.boxes, [[10, 20, 40, 60], [0, 0, 5, 5]])  # xywh -> xyxy, car dropped
    np.testing.assert_allclose(out.scores, [0.9, 0.2])
    np.testing.assert_array_equal(out.labels, [1, 1])
    np.testing.assert_allclose(boxes["images/val/a.jpg"].boxes, out.boxes)  # base name lookup
    assert boxes[8].scores.tolist() == [1.0] and boxes[8].labels.tolist() == [0]
    assert len(boxes[99]) == 0 and len(boxes["other.jpg"]) == 0  # unknown: no boxes
    assert len(BoxesFromFile(path, min_score=0.5)[7]) == 1
    assert len(BoxesFromFile(path, category_id=None)[7]) == 3
    assert boxes.image_ids() == [7, 8] and len(boxes) == 2
    strict = BoxesFromFile(path, strict=True)
    with pytest.raises(KeyError, match="99"):
        strict[99]
    with pytest.raises(KeyError, match="other.jpg"):
        strict["other.jpg"]
    with pytest.raises(TypeError, match="key"):
        boxes[1.5]
    assert [len(d) for d in boxes.detect_batch([IMAGE, IMAGE], keys=[7, 8])] == [2, 1]
    with pytest.raises(ValueError, match="keys has 1 entries"):
        boxes.detect_batch([IMAGE, IMAGE], keys=[7])


def test_file_names_need_a_mapping(tmp_path):
    path = _write(tmp_path, [{"image_id": 3, "bbox": [0, 0, 1, 1], "score": 0.5}])
    with pytest.raises(KeyError, match="no file names"):
        BoxesFromFile(path)["x.jpg"]
    assert len(BoxesFromFile(path, images={"x.jpg": 3})["x.jpg"]) == 1
    coco = _write(tmp_path, {"images": [{"id": 3, "file_name": "x.jpg"}]}, "gt.json")
    assert len(BoxesFromFile(path, images=coco)["x.jpg"]) == 1


def test_coco_dataset_file_gives_ground_truth_boxes():
    path = shared_path("data", "coco", "person_keypoints_train2017_fullgt_subset.json")
    gt = json.loads(path.read_text())
    boxes = BoxesFromFile(path)
    image = gt["images"][0]
    anns = [a for a in gt["annotations"] if a["image_id"] == image["id"]]
    out = boxes[image["file_name"]]
    assert len(out) == len(anns)
    x, y, w, h = anns[0]["bbox"]
    np.testing.assert_allclose(out.boxes[0], [x, y, x + w, y + h], rtol=1e-6)
    assert (out.scores == 1).all()
    np.testing.assert_allclose(boxes[image["id"]].boxes, out.boxes)


@pytest.mark.parametrize("record, match", [
    ({"bbox": [0, 0, 1, 1]}, "record 0 has no 'image_id'"),
    ({"image_id": "a", "bbox": [0, 0, 1, 1]}, "'image_id' must be an int"),
    ({"image_id": 1, "bbox": [0, 0, 1]}, r"record 0: 'bbox' must be 4 finite numbers"),
    ({"image_id": 1, "bbox": [0, 0, "w", 1]}, "'bbox' must be 4 finite numbers"),
    ({"image_id": 1, "bbox": [0, 0, float("nan"), 1]}, "'bbox' must be 4 finite numbers"),
    ({"image_id": 1, "bbox": [0, 0, 1, 1], "score": 1.5}, r"'score' must be a number in \[0, 1\]"),
    ({"image_id": 1, "bbox": [0, 0, 1, 1], "category_id": "person"}, "'category_id' must be an int"),
    ([1, 2], "record 0 must be an object"),
])
def test_bad_records_are_named(tmp_path, record, match):
    with pytest.raises(ValueError, match=match):
        BoxesFromFile(_write(tmp_path, [record]))


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        BoxesFromFile(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        BoxesFromFile(bad)
    with pytest.raises(ValueError, match="without 'annotations'"):
        BoxesFromFile(_write(tmp_path, {"images": []}))
    with pytest.raises(ValueError, match="must hold a list"):
        BoxesFromFile(_write(tmp_path, 3))
    with pytest.raises(ValueError, match=r"images\[0\] must have 'id' and 'file_name'"):
        BoxesFromFile(_write(tmp_path, {"annotations": [], "images": [{"id": 1}]}))


def test_crowd_regions_and_degenerate_boxes_are_skipped_and_listed(tmp_path):
    """COCO crowd regions are not persons and zero/negative-size boxes cannot be cropped: both are left out of
    the boxes, listed in ``skipped`` (record, image, bbox, reason), and the other records are kept."""
    path = _write(tmp_path, {
        "images": [{"id": 5, "file_name": "a.jpg"}, {"id": 6, "file_name": "b.jpg"}],
        "annotations": [
            {"image_id": 5, "bbox": [10, 10, 20, 40], "category_id": 1},
            {"image_id": 5, "bbox": [0, 0, 100, 80], "category_id": 1, "iscrowd": 1},
            {"image_id": 5, "bbox": [100, 100, 0, 0], "category_id": 1},
            {"image_id": 6, "bbox": [3, 3, -1, 5], "category_id": 1},
        ]})
    boxes = BoxesFromFile(path)
    np.testing.assert_allclose(boxes["a.jpg"].boxes, [[10, 10, 30, 50]])
    assert len(boxes["b.jpg"]) == 0
    assert [(s.record, s.image_id, s.reason) for s in boxes.skipped] == [
        (1, 5, "crowd"), (2, 5, "degenerate"), (3, 6, "degenerate")]
    assert [s.record for s in boxes.skipped_for("a.jpg")] == [1, 2]
    assert "bbox [100, 100, 0, 0]" in boxes.skipped[1].describe()
