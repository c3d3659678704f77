"""posekit.io.coco: MMPose's results file round trip, the COCO annotation files in ../shared/data/coco, bad records."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from pycocotools.coco import COCO

from posekit.io import load_coco_annotations, read_coco_results, write_coco_results
from tests.conftest import shared_path

ANNOTATION_FILES = [
    "person_keypoints_train2017_fullgt_subset.json",
    "person_keypoints_train2017_upstream_subset.json",
    "openpose_examples_keypoints.json",
]


def _result(**changes):
    record = {"image_id": 1, "category_id": 1, "keypoints": [10.0, 20.0, 0.9] * 17, "score": 0.75}
    record.update(changes)
    return record


def test_mmpose_results_round_trip_exactly(tmp_path):
    path = shared_path("fixtures", "mmpose", "eval", "results_default.keypoints.json")
    raw = json.loads(path.read_text())
    results = read_coco_results(path)
    assert results == raw  # every record valid as written by MMPose's CocoMetric, nothing changed
    assert len(results) == 12 and all(len(r["keypoints"]) == 51 for r in results)
    out = write_coco_results(tmp_path / "nested" / "results.json", results)
    assert json.loads(out.read_text()) == raw  # floats survive bit-exactly
    assert read_coco_results(out) == raw
    assert [p.name for p in out.parent.iterdir()] == ["results.json"]  # no temporary file left


def test_written_results_load_in_pycocotools(tmp_path):
    gt_path = shared_path("data", "coco", "person_keypoints_train2017_fullgt_subset.json")
    gt = COCO(str(gt_path))
    annotations = load_coco_annotations(gt_path)["annotations"][:5]
    results = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "keypoints": np.asarray(a["keypoints"], np.float32).reshape(17, 3),  # (K, 3) array accepted
            "score": np.float32(0.9),
            "bbox": a["bbox"],
        }
        for a in annotations
    ]
    path = write_coco_results(tmp_path / "dt.json", results)
    detections = gt.loadRes(str(path))
    assert len(detections.anns) == 5
    for written, annotation in zip(detections.anns.values(), annotations):
        np.testing.assert_allclose(written["keypoints"], annotation["keypoints"], rtol=1e-6)


def test_nan_keypoints_written_as_zero_with_score_zero(tmp_path):
    keypoints = np.tile(np.array([[5.0, 6.0, 0.8]]), (17, 1))
    keypoints[3, 0] = np.nan  # x unknown
    keypoints[7, 2] = np.nan  # score unknown
    original = keypoints.copy()
    record = _result(keypoints=keypoints)
    path = write_coco_results(tmp_path / "r.json", [record])
    np.testing.assert_array_equal(keypoints, original)  # input not mutated
    assert record["keypoints"] is keypoints
    written = json.loads(path.read_text())[0]["keypoints"]
    assert written[9:12] == [0.0, 0.0, 0.0] and written[21:24] == [0.0, 0.0, 0.0]
    assert written[:3] == [5.0, 6.0, 0.8]
    assert not any(math.isnan(v) for v in written)


def test_extra_keys_kept_and_numpy_scalars_converted(tmp_path):
    record = _result(image_id=np.int64(42), score=np.float32(0.5), id=7, bbox=(1, 2, 3, 4))
    path = write_coco_results(tmp_path / "r.json", [record])
    (back,) = read_coco_results(path)
    assert back["image_id"] == 42 and type(back["image_id"]) is int
    assert back["id"] == 7 and back["bbox"] == [1.0, 2.0, 3.0, 4.0] and back["score"] == 0.5
    assert write_coco_results(tmp_path / "empty.json", []).read_text().strip() == "[]"
    assert read_coco_results(tmp_path / "empty.json") == []


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"category_id": 1, "keypoints": [1, 2, 3], "score": 1}, r"results\[1\] lacks the key\(s\) \['image_id'\]"),
        (_result(image_id="12"), r"results\[1\]\['image_id'\] must be an int"),
        (_result(image_id=True), r"results\[1\]\['image_id'\] must be an int"),
        (_result(category_id=1.0), r"results\[1\]\['category_id'\] must be an int"),
        (_result(keypoints=[1.0] * 50), r"results\[1\]\['keypoints'\] must have a length .* multiple of 3.*got 50"),
        (_result(keypoints=[]), r"results\[1\]\['keypoints'\] must have a length"),
        (_result(keypoints=np.zeros((17, 2))), r"results\[1\]\['keypoints'\] must have shape"),
        (_result(keypoints=[[1, 2, 3]] * 17), r"results\[1\]\['keypoints'\] must be a flat list"),
        (_result(keypoints=["a", "b", "c"]), r"results\[1\]\['keypoints'\] must hold only numbers"),
        (_result(keypoints="1,2,3"), r"results\[1\]\['keypoints'\] must be a list"),
        (_result(keypoints=[1.0, float("inf"), 1.0]), r"results\[1\]\['keypoints'\] holds infinite"),
        (_result(score=float("nan")), r"results\[1\]\['score'\] must be finite"),
        (_result(score=None), r"results\[1\]\['score'\] must be a number"),
        (_result(bbox=[1, 2, 3]), r"results\[1\]\['bbox'\] must be \[x, y, w, h\]"),
        (_result(bbox=[1, 2, -3, 4]), r"results\[1\]\['bbox'\] must be finite with w, h >= 0"),
        (_result(extra=object()), r"results\[1\] is not JSON-serialisable"),
        ("not a dict", r"results\[1\] must be a dict"),
    ],
)
def test_bad_records_name_index_and_key(tmp_path, record, message):
    path = tmp_path / "r.json"
    with pytest.raises(ValueError, match=message):
        write_coco_results(path, [_result(), record])
    assert not path.exists() and list(tmp_path.iterdir()) == []  # nothing written, no temp file


def test_write_rejects_a_single_dict(tmp_path):
    with pytest.raises(ValueError, match="single dict"):
        write_coco_results(tmp_path / "r.json", _result())


def test_read_errors_name_file_and_record(tmp_path):
    good = json.loads(shared_path("fixtures", "mmpose", "eval", "results_default.keypoints.json").read_text())
    bad = copy.deepcopy(good)
    del bad[4]["score"]
    path = tmp_path / "bad_results.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"bad_results\.json.*record 4 lacks the key\(s\) \['score'\]"):
        read_coco_results(path)
    bad = copy.deepcopy(good)
    bad[7]["keypoints"] = bad[7]["keypoints"][:-1]
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"bad_results\.json.*record 7\['keypoints'\]"):
        read_coco_results(path)
    path.write_text(json.dumps({"annotations": good}))
    with pytest.raises(ValueError, match=r"bad_results\.json.*must hold a JSON list"):
        read_coco_results(path)
    path.write_text(json.dumps(good)[:-20])
    with pytest.raises(ValueError, match=r"bad_results\.json.*not valid JSON"):
        read_coco_results(path)
    path.write_text("")
    with pytest.raises(ValueError, match=r"bad_results\.json.*empty"):
        read_coco_results(path)
    with pytest.raises(FileNotFoundError, match="absent.json"):
        read_coco_results(tmp_path / "absent.json")


@pytest.mark.parametrize("name", ANNOTATION_FILES)
def test_load_shared_annotation_files(name):
    path = shared_path("data", "coco", name)
    data = load_coco_annotations(path)
    assert data == json.loads(path.read_text())
    coco = COCO(str(path))  # the reference loader agrees on the contents
    assert len(coco.imgs) == len(data["images"]) and len(coco.anns) == len(data["annotations"])
    assert len(data["categories"][0]["keypoints"]) == 17


def test_load_large_val2017_reconstruction():
    data = load_coco_annotations(shared_path("data", "coco", "person_keypoints_val2017_reconstructed.json"))
    assert len(data["images"]) == 2346 and len(data["annotations"]) == 6352


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("images"), r"lacks the top-level key\(s\) \['images'\]"),
        (lambda d: d.update(annotations={}), r"'annotations' must be a list, got dict"),
        (lambda d: d["images"][2].pop("id"), r"images\[2\] lacks the key 'id'"),
        (lambda d: d["annotations"][5].pop("image_id"), r"annotations\[5\] lacks the key 'image_id'"),
        (lambda d: d["annotations"][5].update(image_id=-1), r"annotations\[5\]\['image_id'\] = -1 is not in 'images'"),
        (lambda d: d["annotations"][6].update(category_id=99), r"annotations\[6\]\['category_id'\] = 99 is not in"),
        (lambda d: d["annotations"][3]["keypoints"].pop(), r"annotations\[3\]\['keypoints'\] must have 3 x 17 = 51"),
        (lambda d: d["categories"][0].pop("keypoints"), "no category has a 'keypoints' list"),
    ],
)
def test_bad_annotation_files(tmp_path, mutate, message):
    data = json.loads(shared_path("data", "coco", "person_keypoints_train2017_fullgt_subset.json").read_text())
    mutate(data)
    path = tmp_path / "broken_gt.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"broken_gt\.json.*" + message):
        load_coco_annotations(path)


def test_annotation_file_not_an_object(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[]")
    with pytest.raises(ValueError, match=r"list\.json.*must hold a JSON object, got list"):
        load_coco_annotations(path)
    with pytest.raises(FileNotFoundError, match="absent.json"):
        load_coco_annotations(tmp_path / "absent.json")
