"""COCO-format loader: every COCO-format JSON of MMPose's test data, a real COCO subset against pycocotools,
and bad-record reporting."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest

from posekit import skeletons as sk
from posekit.data.coco import load_coco_keypoints, parse_coco_keypoints, skeleton_from_category
from tests.conftest import SHARED, shared_path

MMPOSE = ("data", "mmpose_testdata", "tests", "data")

# (file under mmpose_testdata/tests/data, K, posekit table or None for a generic skeleton, samples loaded with
# image_dir=None, annotations seen, skipped per reason)
COCO_FORMAT_FILES = [
    ("300vw/anno_300vw.json", 68, sk.face68, 3, 3, {}),
    ("300w/test_300w.json", 68, sk.face68, 2, 2, {}),
    ("300wlp/test_300wlp.json", 68, sk.face68, 2, 2, {}),
    ("aflw/test_aflw.json", 19, None, 2, 2, {}),
    ("aic/test_aic.json", 14, None, 9, 9, {}),
    # both annotations use category_id 4, which the file's categories (1, 2) lack
    ("ak/test_animalkingdom.json", None, None, 0, 2, {"bad_value": 2}),
    ("animalpose/test_animalpose.json", 20, None, 2, 2, {}),
    ("ap10k/test_ap10k.json", 17, sk.ap10k17, 2, 2, {}),
    ("atrw/test_atrw.json", 15, None, 2, 2, {}),
    ("coco/test_coco.json", 17, sk.coco17, 12, 14, {"too_few_keypoints": 2}),
    ("coco/test_coco_wholebody.json", 133, sk.coco_wholebody133, 12, 14, {"too_few_keypoints": 2}),
    # the 133 keypoints flattened into 'keypoints' under a 17-name category
    ("coco/test_keypoint_partition_metric.json", 133, sk.coco_wholebody133, 12, 14, {"too_few_keypoints": 2}),
    ("cofw/test_cofw.json", 29, None, 2, 2, {}),
    ("crowdpose/test_crowdpose.json", 14, None, 4, 5, {"too_few_keypoints": 1}),
    ("deepfasion2/deepfasion2.json", 294, None, 2, 2, {}),
    ("exlpose/test_exlpose.json", 14, None, 6, 6, {}),
    ("fld/test_fld.json", 8, None, 2, 2, {}),
    ("fly/test_fly.json", 32, None, 2, 2, {}),
    ("freihand/test_freihand.json", 21, sk.hand21, 8, 8, {}),
    ("halpe/test_halpe.json", 136, None, 12, 14, {"too_few_keypoints": 2}),
    ("horse10/test_horse10.json", 22, None, 3, 3, {}),
    ("humanart/test_humanart.json", 17, sk.coco17, 4, 4, {}),  # 'keypoints' is COCO-17; 21 names for keypoints_21
    ("jhmdb/test_jhmdb_sub1.json", 15, None, 3, 3, {}),
    ("lapa/test_lapa.json", 106, None, 2, 2, {}),
    ("locust/test_locust.json", 35, None, 2, 2, {}),
    ("macaque/test_macaque.json", 17, sk.coco17, 2, 2, {}),
    ("mhp/test_mhp.json", 16, sk.mpii16, 4, 4, {}),
    ("mpii/test_mpii_trb.json", 40, None, 5, 5, {}),
    ("ochuman/test_ochuman.json", 17, sk.coco17, 5, 5, {}),
    ("onehand10k/test_onehand10k.json", 21, sk.hand21, 4, 4, {}),
    ("panoptic/test_panoptic.json", 21, sk.hand21, 4, 4, {}),
    ("posetrack18/annotations/test_posetrack18_val.json", 17, None, 14, 14, {}),
    ("posetrack18/annotations/val/003418_mpii_test.json", 17, None, 1, 1, {}),
    ("posetrack18/annotations/val/009473_mpii_test.json", 17, None, 2, 2, {}),
    ("posetrack18/annotations/val/012834_mpii_test.json", 17, None, 11, 11, {}),
    ("rhd/test_rhd.json", 21, sk.hand21, 3, 3, {}),  # keypoints as a (21, 3) nested list
    ("ubody3d/ubody3d_train.json", None, None, 0, 1, {"bad_shape": 1}),  # (133, 2) keypoints: not COCO's layout
    ("wflw/test_wflw.json", 98, None, 4, 4, {}),
    ("zebra/test_zebra.json", 9, None, 2, 2, {}),
]


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _expected_keypoints(ann, wholebody):
    """(K, 2) NaN-for-unlabelled keypoints read straight from the annotation, independently of the loader."""
    blocks = [np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)]
    if wholebody and "face_kpts" in ann:
        blocks += [np.asarray(ann[k], dtype=np.float64).reshape(-1, 3)
                   for k in ("foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")]
    raw = np.concatenate(blocks)
    return np.where(raw[:, 2:] > 0, raw[:, :2], np.nan), raw[:, 2]


@pytest.mark.parametrize(
    "rel, k, table, loaded, seen, skipped", COCO_FORMAT_FILES, ids=[c[0] for c in COCO_FORMAT_FILES]
)
def test_mmpose_coco_format_files(rel, k, table, loaded, seen, skipped):
    path = shared_path(*MMPOSE, *rel.split("/"))
    samples, report = load_coco_keypoints(path)
    assert (len(samples), report.num_records, report.counts()) == (loaded, seen, skipped), report.skipped
    if not samples:
        return
    data = json.loads(path.read_text())
    anns = {a["id"]: a for a in data["annotations"]}
    skeleton = samples[0].skeleton
    assert skeleton.num_keypoints == k
    if table is not None:
        assert skeleton == table
    else:
        names = [_norm(n) for n in data["categories"][0].get("keypoints") or []]
        expected = names[:k] if names else [f"kpt_{i}" for i in range(k)]
        assert list(skeleton.keypoints) == expected
    for s in samples:
        assert s.skeleton == skeleton and s.image_path is None
        ann = anns[s.meta["annotation_id"]]
        kpts, flags = _expected_keypoints(ann, k == 133)
        np.testing.assert_array_equal(s.keypoints, kpts.astype(np.float32))
        np.testing.assert_array_equal(s.meta["flags"], flags.astype(np.float32))
        assert s.image_id == ann["image_id"]
        if ann.get("bbox") is not None:
            x, y, w, h = ann["bbox"]
            np.testing.assert_allclose(s.box, [x, y, x + w, y + h], rtol=1e-6)
        # visible: COCO semantics when the file uses flag 2, else every labelled point
        uses_two = any(np.any(np.asarray(s2.meta["flags"]) == 2) for s2 in samples)
        want = (flags >= 2) if uses_two else (flags > 0)
        np.testing.assert_array_equal(s.visible, (want & np.isfinite(kpts[:, 0])).astype(np.float32))


def test_every_coco_format_file_is_covered():
    root = SHARED.joinpath(*MMPOSE)
    if not root.is_dir():
        pytest.skip(f"{root} is absent (the read-only ../shared data folder is not next to this checkout)")
    found = set()
    for path in root.rglob("*.json"):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "categories" in data and "annotations" in data:
            found.add(path.relative_to(root).as_posix())
    assert found == {c[0] for c in COCO_FORMAT_FILES}


def test_real_coco_subset_matches_pycocotools():
    from pycocotools.coco import COCO

    ann_file = shared_path("data", "coco", "person_keypoints_train2017_fullgt_subset.json")
    image_dir = shared_path("data", "coco", "train2017_subset")
    samples, report = load_coco_keypoints(ann_file, image_dir=image_dir)
    coco = COCO(str(ann_file))
    assert report.num_records == len(coco.anns) == 86 and len(samples) == 86 and report.skipped == ()
    for s in samples:
        ann = coco.anns[s.meta["annotation_id"]]
        raw = np.asarray(ann["keypoints"], dtype=np.float32).reshape(17, 3)
        np.testing.assert_array_equal(np.isfinite(s.keypoints[:, 0]), raw[:, 2] > 0)
        np.testing.assert_array_equal(s.keypoints[raw[:, 2] > 0], raw[raw[:, 2] > 0, :2])
        np.testing.assert_array_equal(s.visible, (raw[:, 2] == 2).astype(np.float32))
        x, y, w, h = ann["bbox"]
        np.testing.assert_allclose(s.box, [x, y, x + w, y + h], rtol=1e-6)
        assert s.image_path == image_dir / coco.imgs[ann["image_id"]]["file_name"] and s.image_path.is_file()
        assert s.skeleton is sk.coco17 and s.meta["num_keypoints"] == ann["num_keypoints"] == s.num_labelled


def test_wholebody_file_loads_as_body_only_with_coco17():
    path = shared_path(*MMPOSE, "coco", "test_coco_wholebody.json")
    body, _ = load_coco_keypoints(path, skeleton=sk.coco17)
    whole, _ = load_coco_keypoints(path)
    assert [s.skeleton for s in body] == [sk.coco17] * 12
    for b, w in zip(body, whole):
        np.testing.assert_array_equal(b.keypoints, w.keypoints[:17])
        assert "face_box" in w.meta and w.meta["face_box"].shape == (4,)


def _tmp_dataset(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(b"not decoded")
    k = [10, 20, 2, 30, 40, 1, 0, 0, 0] + [0, 0, 0] * 14
    good = {"id": 1, "image_id": 1, "category_id": 1, "keypoints": k, "bbox": [5, 6, 7, 8], "area": 56.0}
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}, {"id": 2, "file_name": "gone.jpg"}],
        "categories": [{"id": 1, "name": "person", "keypoints": list(sk.coco17.keypoints), "skeleton": [[16, 14]]}],
        "annotations": [
            good,
            {"id": 2, "image_id": 1, "category_id": 1},                       # missing 'keypoints'
            {**good, "id": 3, "image_id": 99},                               # image not listed
            {**good, "id": 4, "image_id": 2},                                # image file missing
            {**good, "id": 5, "keypoints": [0] * 51, "num_keypoints": 0},    # zero keypoints
            {**good, "id": 6, "keypoints": k[:50]},                          # bad length
            {**good, "id": 7, "bbox": [1, 2, -3, 4]},                        # negative width
            "not an object",
            {**good, "id": 9, "keypoints": ["a"] * 51},                      # not numbers
            {**good, "id": 10, "category_id": 5},                            # unknown category
        ],
    }
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    return path, data


def test_bad_records_are_reported_and_skipped(tmp_path):
    path, data = _tmp_dataset(tmp_path)
    samples, report = load_coco_keypoints(path, image_dir=tmp_path / "img")
    assert len(samples) == 1 and report.num_records == 10 and report.num_loaded == 1
    by_index = {s.index: s for s in report.skipped}
    assert {i: s.reason for i, s in by_index.items()} == {
        1: "missing_key", 2: "unknown_image", 3: "missing_image", 4: "too_few_keypoints", 5: "bad_shape",
        6: "bad_value", 7: "bad_value", 8: "bad_value", 9: "bad_value",
    }
    assert "'keypoints'" in by_index[1].message and by_index[1].record_id == 2
    assert "gone.jpg" in by_index[3].message
    assert "0 labelled keypoints" in by_index[4].message
    assert "bbox" in by_index[6].message
    s = samples[0]
    assert s.image_path == tmp_path / "img" / "a.jpg" and s.image_id == 1
    np.testing.assert_array_equal(s.keypoints[:2], [[10, 20], [30, 40]])
    assert np.isnan(s.keypoints[2:]).all()
    np.testing.assert_array_equal(s.visible[:3], [1, 0, 0])  # flag 2 visible, flag 1 occluded, flag 0 unlabelled
    np.testing.assert_array_equal(s.box, [5, 6, 12, 14])
    assert s.meta["area"] == 56.0 and s.meta["image_size"] == (64, 48)
    # labelled-only semantics on request
    samples, _ = load_coco_keypoints(path, image_dir=tmp_path / "img", occlusion_flags=False)
    np.testing.assert_array_equal(samples[0].visible[:3], [1, 1, 0])
    # without an image folder: no paths, no image checks; min_keypoints=0 keeps the empty one
    samples, report = load_coco_keypoints(path, min_keypoints=0)
    assert report.counts() == {"missing_key": 1, "unknown_image": 1, "bad_shape": 1, "bad_value": 4}
    assert all(s.image_path is None for s in samples) and len(samples) == 3


def test_parse_does_not_modify_its_input(tmp_path):
    _, data = _tmp_dataset(tmp_path)
    before = copy.deepcopy(data)
    parse_coco_keypoints(data)
    assert data == before


def test_file_level_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_coco_keypoints(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json.*not valid JSON"):
        load_coco_keypoints(bad)
    bad.write_text(json.dumps({"images": [], "annotations": []}))
    with pytest.raises(ValueError, match="lacks the top-level key 'categories'"):
        load_coco_keypoints(bad)
    bad.write_text(json.dumps([{"image_id": 1}]))
    with pytest.raises(ValueError, match="must be a JSON object, got list"):
        load_coco_keypoints(bad)


def test_skeleton_from_category_links_and_flips():
    cat = {"name": "Person", "keypoints": ["Head", "Left Hand", "Right Hand", "left hand"],
           "skeleton": [[1, 2], [1, 3], [2, 2]]}
    s = skeleton_from_category(cat)
    assert s.name == "person4" and s.keypoints == ("head", "left_hand", "right_hand", "left_hand_2")
    assert s.links == ((0, 1), (0, 2)) and s.flip_pairs == ((1, 2),) and s.sigmas is None
    zero_based = skeleton_from_category({**cat, "skeleton": [[0, 1], [0, 2]]})
    assert zero_based.links == ((0, 1), (0, 2))
    assert skeleton_from_category({**cat, "skeleton": [[1, 9]]}).links == ()  # written for another layout
    assert skeleton_from_category({"name": "face"}, num_keypoints=3).keypoints == ("kpt_0", "kpt_1", "kpt_2")


def test_malformed_ids_and_unknown_k_are_reported_not_raised():
    data = {
        "images": [{"id": [1], "file_name": "x.jpg"}, {"id": 2, "file_name": "y.jpg"}],
        "categories": [{"id": 1, "name": "face"}],  # no keypoint names
        "annotations": [{"id": 1, "image_id": [1], "category_id": 1, "keypoints": "n/a"},
                        {"id": 2, "image_id": 2, "category_id": {"a": 1}}],
    }
    samples, report = parse_coco_keypoints(data)
    assert samples == [] and report.counts() == {"bad_shape": 2}
    assert "K is unknown" in report.skipped[0].message
    data["annotations"].append({"id": 3, "image_id": 2, "category_id": 1, "keypoints": [1, 2, 1] * 5})
    samples, report = parse_coco_keypoints(data)
    assert len(samples) == 1 and samples[0].skeleton.keypoints == tuple(f"kpt_{i}" for i in range(5))
    assert report.counts() == {"unknown_image": 1, "missing_key": 1}
    assert any("images[0]" in n for n in report.notes)
