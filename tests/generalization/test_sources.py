"""Pose sources of the dataset map: every kind loads the real files of ../shared (counts checked), is detected from
its contents, and lands root-relative and torso-scaled; bad inputs give errors naming the source."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit import skeletons as sk
from posekit.data.h36m import H36M_TO_Y_UP
from posekit.data.npz3d import H36M32_TO_17
from posekit.generalization.posespace import BODY12
from posekit.generalization.sources import (
    SOURCE_KINDS,
    PoseSource,
    detect_kind,
    load_pose_set,
    load_raw,
    parse_source,
)
from posekit.io.coco import write_coco_results
from posekit.lift.data import load_cmu_clips
from posekit.types import FrameResult, Poses
from tests.conftest import shared_path

COL = {n: i for i, n in enumerate(BODY12)}
PT = ("mmpose_testdata", "tests", "data", "posetrack18", "annotations")
COCO_VAL = ("coco", "person_keypoints_val2017_reconstructed.json")


def data(*parts):
    return shared_path("data", *parts)


def src(kind, *parts, name="X"):
    return PoseSource(name, kind, data(*parts))


def check_normalised(ps):
    """Root (mid-hip) at the origin and mid-shoulder at distance 1 for every pose."""
    assert len(ps) > 0 and np.isfinite(ps.points[:, [COL["left_hip"], COL["right_hip"]]]).all()
    mid_hip = 0.5 * (ps.points[:, COL["left_hip"]] + ps.points[:, COL["right_hip"]])
    mid_sh = 0.5 * (ps.points[:, COL["left_shoulder"]] + ps.points[:, COL["right_shoulder"]])
    np.testing.assert_allclose(mid_hip, 0.0, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(mid_sh, axis=1), 1.0, rtol=1e-9)


def write_h36m_npz(path, clip_yup_mm):
    """A VideoPose3D-layout data_3d_h36m.npz (32 joints, metres, Z up) holding one CMU clip as S1/Walking."""
    z_up_m = clip_yup_mm @ H36M_TO_Y_UP / 1000.0  # inverse of x_y = M x_h
    j32 = np.zeros((len(clip_yup_mm), 32, 3), np.float32)
    j32[:, list(H36M32_TO_17)] = z_up_m
    obj = np.empty((), dtype=object)
    obj[()] = {"S1": {"Walking": j32}}
    np.savez_compressed(path, positions_3d=obj)
    return path


@pytest.fixture(scope="module")
def cmu_clip():
    data("mocap", "cmu")
    clips = load_cmu_clips()
    return np.asarray(clips[min(clips)][:240], np.float64)


@pytest.fixture(scope="module")
def coco_val():
    return load_raw(src("coco", *COCO_VAL, name="COCO"))


# ------------------------------------------------------------------------------------------ real data, per kind


@pytest.mark.parametrize("parts, kind", [
    (COCO_VAL, "coco"),
    (("coco", "person_keypoints_train2017_upstream_subset.json"), "coco"),
    (("coco", "openpose_examples_keypoints.json"), "coco"),
    ((*PT, "val"), "posetrack18"),
    ((*PT, "test_posetrack18_val.json"), "posetrack18"),
    (("mpii", "hg_valid.h5"), "mpii"),
    (("mpii", "deeppose_mpii_train_joints.csv"), "mpii"),
    (("lsp",), "lsp"),
    (("lsp", "joints.mat"), "lsp"),
    (("lspet",), "lspet"),
    (("lspet", "joints.mat"), "lspet"),
    (("mocap", "cmu"), "cmu"),
])
def test_detect_kind_on_real_paths(parts, kind):
    assert detect_kind(data(*parts)) == kind
    assert parse_source(f"D={data(*parts)}") == PoseSource("D", kind, data(*parts))


def test_coco_val_counts_and_missing_joints(coco_val):
    raw = coco_val
    ann = json.loads(data(*COCO_VAL).read_text())["annotations"]
    assert len(raw) == 6352 and raw.skeleton == sk.coco17 and raw.frame == "image" and raw.scores is None
    v = np.array([a["keypoints"] for a in ann], np.float64).reshape(-1, 17, 3)
    assert np.array_equal(np.isnan(raw.keypoints[..., 0]), v[..., 2] == 0)  # v = 0 -> missing, v = 1, 2 present
    ps = load_pose_set(src("coco", *COCO_VAL, name="COCO"))
    # expected survivors from the raw flags: both hips, both shoulders and >= 6 of the 12 limb joints labelled
    idx = [sk.coco17.index(n) for n in BODY12]
    lab = v[:, idx, 2] > 0
    keep = lab[:, [COL[n] for n in ("left_hip", "right_hip", "left_shoulder", "right_shoulder")]].all(1)
    keep &= lab.sum(1) >= 6
    assert len(ps) == keep.sum() and ps.n_input == 6352 and 0 < ps.n_dropped < 6352
    np.testing.assert_array_equal(ps.indices, np.flatnonzero(keep))
    check_normalised(ps)
    assert len(raw.group_labels) == 2346  # images


@pytest.mark.parametrize("parts, kind, n_raw, skeleton", [
    (("lsp",), "lsp", 2000, "lsp14"),
    (("mpii", "hg_valid.h5"), "mpii", 2958, "mpii16"),
    ((*PT, "val"), "posetrack18", 14, "posetrack18"),
    ((*PT, "test_posetrack18_val.json"), "posetrack18", 14, "posetrack18"),
    (("coco", "openpose_examples_keypoints.json"), "coco", 48, "coco17"),
])
def test_real_sources_load_and_normalise(parts, kind, n_raw, skeleton):
    raw = load_raw(src(kind, *parts))
    assert (len(raw), raw.skeleton.name, raw.kind) == (n_raw, skeleton, kind)
    ps = load_pose_set(src(kind, *parts))
    assert ps.n_input == n_raw and ps.dataset == "X" and ps.joint_names == BODY12
    check_normalised(ps)
    if kind == "lsp":  # every LSP joint is labelled (occluded ones too): nothing is dropped
        assert len(ps) == 2000 and ps.present.all()


def test_posetrack_limb_joints_keep_their_coordinates():
    ann = json.loads(data(*PT, "test_posetrack18_val.json").read_text())["annotations"]
    src_pt = src("posetrack18", *PT, "test_posetrack18_val.json")
    raw = load_raw(src_pt)
    assert raw.skeleton == sk.posetrack18
    kp = np.array(ann[0]["keypoints"], np.float64).reshape(17, 3)
    expect = np.where(kp[:, 2:] > 0, kp[:, :2], np.nan)
    np.testing.assert_allclose(raw.keypoints[0], expect, atol=1e-4)  # the loader keeps float32
    ps = load_pose_set(src_pt, scale=None)  # PoseTrack's indices 5-16 are COCO's limb joints: same coordinates
    row = int(np.flatnonzero(ps.indices == 0)[0])
    limbs = expect[5:]
    root = 0.5 * (limbs[BODY12.index("left_hip")] + limbs[BODY12.index("right_hip")])
    np.testing.assert_allclose(ps.points[row], limbs - root, atol=1e-4)


def test_mpii_csv_every_row_and_unlabelled_joints_missing():
    path = data("mpii", "deeppose_mpii_train_joints.csv")
    xy = np.loadtxt(path, delimiter=",", usecols=range(1, 33)).reshape(-1, 16, 2)
    raw = load_raw(PoseSource("MPII", "mpii", path))
    assert len(raw) == len(xy) == 17928 and raw.skeleton == sk.mpii16
    np.testing.assert_array_equal(np.isnan(raw.keypoints[..., 0]), (xy == -1).all(axis=2))  # (-1, -1) -> NaN
    np.testing.assert_allclose(raw.keypoints[~np.isnan(raw.keypoints)], (xy - 0.5)[~(xy == -1).all(2)].ravel())


@pytest.mark.slow
def test_lspet_pose_set():
    ps = load_pose_set(src("lspet", "lspet"))
    assert ps.n_input == 10000 and 0 < len(ps) < 10000
    check_normalised(ps)


def test_lspet_all_annotations_without_images():
    raw = load_raw(src("lspet", "lspet", "joints.mat"))
    assert len(raw) == 10000 and raw.skeleton == sk.lsp14 and len(raw.group_labels) == 10000
    assert np.isnan(raw.keypoints).any()  # flag-0 joints are missing, not (0, 0)


# ----------------------------------------------------------------------------------------------------- 3D sources


def test_cmu_2d_projection_is_deterministic_per_seed():
    cmu = src("cmu", "mocap", "cmu")
    a, b = load_raw(cmu, stride=120, seed=0), load_raw(cmu, stride=120, seed=0)
    c = load_raw(cmu, stride=120, seed=1)
    assert a.frame == "image" and a.keypoints.shape[1:] == (17, 2) and a.skeleton == sk.h36m17
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    assert not np.allclose(a.keypoints, c.keypoints)
    assert a.keypoints.min() >= 0 and a.keypoints.max() <= 1920  # inside the virtual images
    clips = load_cmu_clips()
    assert len(a) == sum(len(v[::120]) for v in clips.values()) and a.group_labels == tuple(sorted(clips))
    check_normalised(load_pose_set(cmu, stride=120))


def test_cmu_3d_camera_frame_is_a_rigid_view_and_body_frame_has_hips_along_x():
    cmu = src("cmu", "mocap", "cmu")
    world = load_raw(cmu, dim=3, stride=120)
    cam = load_raw(cmu, dim=3, stride=120, frame3d="camera")
    assert (world.frame, world.up, cam.frame) == ("world", "y", "camera")
    assert cam.keypoints[..., 2].min() > 500  # in front of the camera (mm)
    d = lambda k: np.linalg.norm(k[:, :, None] - k[:, None], axis=-1)
    np.testing.assert_allclose(d(cam.keypoints), d(world.keypoints), atol=1e-6)  # same poses, rotated
    assert not np.allclose(cam.keypoints - cam.keypoints[:, :1], world.keypoints - world.keypoints[:, :1])
    body = load_pose_set(cmu, dim=3, frame="body", stride=120)
    hips = body.points[:, COL["left_hip"]] - body.points[:, COL["right_hip"]]
    np.testing.assert_allclose(hips[:, 2], 0.0, atol=1e-9)
    assert (hips[:, 0] > 0).all() and body.frame == "body"
    mid_sh = 0.5 * (body.points[:, COL["left_shoulder"]] + body.points[:, COL["right_shoulder"]])
    assert np.mean(mid_sh[:, 1] > 0.5) > 0.9  # Y up: shoulders above the hips
    check_normalised(body)
    camera = load_pose_set(cmu, dim=3, frame="camera", stride=120)
    assert camera.frame == "camera" and np.mean(camera.points[:, COL["left_shoulder"], 1] < 0) > 0.9  # y down


def test_h36m_npz_matches_its_clip(tmp_path, cmu_clip):
    path = write_h36m_npz(tmp_path / "data_3d_h36m.npz", cmu_clip)
    assert detect_kind(path) == "h36m_npz"
    h36m = parse_source(f"H36M={path}")
    assert h36m.kind == "h36m_npz"
    raw = load_raw(h36m, dim=3, stride=12)  # 50 fps: step round(12 * 50 / 120) = 5 -> 10 fps
    assert raw.frame == "world" and raw.up == "y" and raw.group_labels == ("S1/Walking",)
    np.testing.assert_allclose(raw.keypoints, cmu_clip[::5], atol=0.01)  # back in the Y-up world, mm
    px = load_raw(h36m, dim=2, seed=3)
    assert px.keypoints.shape == (48, 17, 2) and np.isfinite(px.keypoints).all()
    body = load_pose_set(h36m, dim=3, frame="body")
    assert (body.points[:, COL["left_hip"], 0] > 0).all()
    check_normalised(body)


# ------------------------------------------------------------------------------------------------- results files


def test_coco_results_list_and_predict_output(tmp_path, coco_val):
    gt = coco_val.keypoints[:40]
    score = np.where(np.isnan(gt[..., 0]), 0.0, 0.9)
    records = [{"image_id": i // 2, "category_id": 1, "score": 1.0, "file_name": f"{i // 2}.jpg",
                "keypoints": np.concatenate([np.nan_to_num(k), s[:, None]], 1).ravel().tolist()}
               for i, (k, s) in enumerate(zip(gt, score))]
    path = write_coco_results(tmp_path / "results.json", records)
    assert detect_kind(path) == "results"
    raw = load_raw(parse_source(f"pred={path}"))
    assert raw.skeleton == sk.coco17 and len(raw.group_labels) == 20
    np.testing.assert_allclose(raw.keypoints, gt, atol=1e-3)  # missing keypoints (written 0, 0, 0) are NaN
    np.testing.assert_array_equal(raw.scores, score)
    check_normalised(load_pose_set(PoseSource("pred", "results", path)))


def test_video_jsonl_every_instance_of_every_frame(tmp_path, coco_val):
    kp = coco_val.keypoints[:7]
    lines = []
    for frame, rows in enumerate(([0, 1, 2], [], [3, 4, 5, 6])):
        k = kp[rows] if rows else np.zeros((0, 17, 2))
        sc = np.where(np.isnan(k[..., 0]), 0.0, 0.8)
        lines.append(FrameResult(frame, Poses(k, sc, np.zeros((len(k), 4)), sk.coco17)).to_json())
    path = tmp_path / "video.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert detect_kind(path) == "results"
    raw = load_raw(PoseSource("video", "results", path))
    assert len(raw) == 7 and raw.group_labels == ("0", "2") and raw.groups.tolist() == [0, 0, 0, 1, 1, 1, 1]
    np.testing.assert_array_equal(raw.keypoints, kp)


def test_results_of_another_skeleton_are_refused(tmp_path):
    rec = {"image_id": 1, "category_id": 1, "score": 1.0, "keypoints": [1.0, 2.0, 1.0] * 21}
    hands = write_coco_results(tmp_path / "hands.json", [rec])
    with pytest.raises(ValueError, match=r"hands\.json.*21 keypoints"):
        load_raw(PoseSource("hands", "results", hands))
    line = FrameResult(0, Poses(np.ones((1, 21, 2)), np.ones((1, 21)), np.zeros((1, 4)), sk.hand21)).to_json()
    (tmp_path / "hands.jsonl").write_text(line + "\n")
    with pytest.raises(ValueError, match="hand21.*coco17"):
        load_pose_set(PoseSource("hands", "results", tmp_path / "hands.jsonl"))


# ------------------------------------------------------------------------------------------------------ bad input


def test_parse_source_errors(tmp_path):
    lsp = data("lsp")
    assert parse_source(f" LSP = lsp:{lsp}") == PoseSource("LSP", "lsp", lsp)
    for spec, match in [(str(lsp), "NAME=PATH"), (f"={lsp}", "NAME=PATH"), ("A=", "NAME=PATH"),
                        (f"A=bogus:{lsp}", "unknown kind 'bogus'")]:
        with pytest.raises(ValueError, match=match) as err:
            parse_source(spec)
        assert spec in str(err.value)
    with pytest.raises(FileNotFoundError, match="A=/no/such/dir"):
        parse_source("A=/no/such/dir")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt.*KIND:PATH"):
        parse_source(f"A={tmp_path / 'notes.txt'}")
    with pytest.raises(ValueError, match="unknown kind 'bogus'"):
        PoseSource("A", "bogus", lsp)
    with pytest.raises(ValueError, match=r"'C=.*coco'.*folder .*name a file"):  # several COCO files: ambiguous
        parse_source(f"C={data('coco')}")
    assert set(SOURCE_KINDS) == {"coco", "posetrack18", "mpii", "lsp", "lspet", "results", "cmu", "h36m_npz"}


@pytest.mark.parametrize("text, match", [("", "not valid JSON"), ("[]", "empty JSON list"), ("{}", "cannot tell"),
                                         ('[{"bbox": [1, 2, 3, 4]}]', "not keypoint results")])
def test_bad_json_is_refused_by_name(tmp_path, text, match):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as err:
        detect_kind(path)
    assert "bad.json" in str(err.value)
    if text == "[]":
        with pytest.raises(ValueError, match="holds no results"):
            load_raw(PoseSource("E", "results", path))


def test_bad_arguments_name_the_source(tmp_path):
    lsp = src("lsp", "lsp", name="LSP")
    with pytest.raises(ValueError, match="'LSP'.*2D poses; dim=3"):
        load_raw(lsp, dim=3)
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        load_raw(lsp, dim=4)
    with pytest.raises(FileNotFoundError, match="'GONE'"):
        load_raw(PoseSource("GONE", "coco", tmp_path / "missing.json"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        detect_kind(tmp_path / "missing.json")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="holds no poses"):
        load_raw(PoseSource("E", "results", tmp_path / "empty.jsonl"))


def test_all_dropped_is_a_clear_error(tmp_path, coco_val):
    kp = coco_val.keypoints[:5].copy()
    kp[:, [sk.coco17.index("left_hip"), sk.coco17.index("right_hip")]] = np.nan  # NaN hips: no root
    line = FrameResult(0, Poses(kp, np.where(np.isnan(kp[..., 0]), 0.0, 1.0), np.zeros((5, 4)), sk.coco17))
    (tmp_path / "nohips.jsonl").write_text(line.to_json() + "\n")
    with pytest.raises(ValueError, match=r"all 5 poses of 'NOHIP' .* were dropped: 5 lack a hip"):
        load_pose_set(PoseSource("NOHIP", "results", tmp_path / "nohips.jsonl"))
