"""Skeleton tables and keypoint mappings, checked against pycocotools, MMPose's dataset metadata (fixtures)
and real annotations / model outputs from ../shared."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from posekit import skeletons as S
from posekit.skeletons import KeypointMapping, Skeleton, mapping
from tests.conftest import shared_path

TABLES = {
    "coco17": 17, "mpii16": 16, "lsp14": 14, "h36m17": 17, "coco_wholebody133": 133, "hand21": 21,
    "face68": 68, "mediapipe_face468": 468, "blazepose33": 33, "ap10k17": 17,
}
ALL = [getattr(S, name) for name in TABLES]
MAPPINGS = [
    S.BLAZEPOSE33_TO_COCO17, S.LSP14_TO_COCO17, S.COCO17_TO_LSP14, S.MPII16_TO_LSP14, S.LSP14_TO_MPII16,
    S.H36M17_TO_COCO17, S.COCO17_TO_H36M17,
]
# The only pairs whose names differ, each a documented correspondence.
RENAMES = {("upper_neck", "neck"), ("neck", "upper_neck"), ("right_foot", "right_ankle"), ("left_foot", "left_ankle"),
           ("right_ankle", "right_foot"), ("left_ankle", "left_foot")}


def _ids(x):
    return x.name if isinstance(x, Skeleton) else f"{x.source.name}->{x.target.name}"


def _mirror(name: str) -> str:
    return "_".join({"left": "right", "right": "left"}.get(t, t) for t in name.split("_"))


# ------------------------------------------------------------------------------------------- table structure


@pytest.mark.parametrize("skel", ALL, ids=_ids)
def test_table_structure(skel: Skeleton) -> None:
    k = TABLES[skel.name]
    assert skel.num_keypoints == k and len(set(skel.keypoints)) == k
    links = np.array(skel.links)
    assert links.min() >= 0 and links.max() < k and (links[:, 0] != links[:, 1]).all()
    assert len({frozenset(link) for link in skel.links}) == len(skel.links), "duplicate link"
    assert len(skel.link_colors) == len(skel.links) and len(skel.keypoint_colors) == k
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in skel.link_colors + skel.keypoint_colors)
    if skel.sigmas is not None:
        assert len(skel.sigmas) == k and skel.sigmas_array().shape == (k,) and (skel.sigmas_array() > 0).all()
    hash(skel)  # frozen + tuples: usable as a dict key


@pytest.mark.parametrize("skel", ALL, ids=_ids)
def test_flip_indices_involution_and_names(skel: Skeleton) -> None:
    p = np.array(skel.flip_indices)
    assert sorted(p) == list(range(skel.num_keypoints))
    np.testing.assert_array_equal(p[p], np.arange(skel.num_keypoints))
    for a, b in skel.flip_pairs:
        na, nb = skel.keypoints[a], skel.keypoints[b]
        if not na.startswith("face_"):
            assert nb == _mirror(na) != na, (na, nb)
    # Every named left/right keypoint has its twin in the flip table.
    paired = {i for pair in skel.flip_pairs for i in pair}
    for i, n in enumerate(skel.keypoints):
        if _mirror(n) != n and _mirror(n) in skel.keypoints:
            assert i in paired, n


def test_side_colours() -> None:
    for skel in (S.coco17, S.mpii16, S.lsp14, S.h36m17, S.blazepose33):
        for (a, b), color in zip(skel.links, skel.link_colors):
            na, nb = skel.keypoints[a], skel.keypoints[b]
            if na.split("_")[0] == nb.split("_")[0] == "left" and "eye" not in na + nb and "ear" not in na + nb:
                assert color == S.LEFT_COLOR, (na, nb)
            elif na.split("_")[0] == nb.split("_")[0] == "right" and "eye" not in na + nb and "ear" not in na + nb:
                assert color == S.RIGHT_COLOR, (na, nb)
            else:
                assert color == S.CENTER_COLOR, (na, nb)
    assert S.hand21.link_colors[S.hand21.links.index((3, 4))] == dict(S.FINGER_COLORS)["thumb"]
    wb = S.coco_wholebody133
    assert wb.link_colors[wb.links.index((131, 132))] == dict(S.FINGER_COLORS)["pinky"]
    assert set(S.face68.link_colors) == {S.FACE_COLOR}


# ------------------------------------------------------------------------------------------- reference values


def test_coco_sigmas_equal_pycocotools() -> None:
    from pycocotools.cocoeval import Params

    np.testing.assert_array_equal(S.coco17.sigmas_array(), Params(iouType="keypoints").kpt_oks_sigmas)


@pytest.mark.parametrize(
    ("skel", "layout"),
    [
        (S.coco17, "td-hm_res50_8xb64-210e_coco-256x192.json"),
        (S.mpii16, "td-hm_res50_8xb64-210e_mpii-256x256.json"),
        (S.h36m17, "image-pose-lift_tcn_8xb64-200e_h36m.json"),
    ],
    ids=["coco17", "mpii16", "h36m17"],
)
def test_matches_mmpose_dataset_meta(skel: Skeleton, layout: str) -> None:
    meta = json.loads(shared_path("fixtures", "mmpose", "layouts", layout).read_text())["dataset_meta"]
    assert meta["num_keypoints"] == skel.num_keypoints
    assert list(skel.flip_indices) == meta["flip_indices"]
    if meta["sigmas"]:  # stored by MMPose as float32
        np.testing.assert_allclose(skel.sigmas_array(), meta["sigmas"], rtol=1e-6)
    else:
        assert skel.sigmas is None


def test_coco_wholebody_layout() -> None:
    wb = S.coco_wholebody133
    assert wb.keypoints[:17] == S.coco17.keypoints and wb.links[:19] == S.coco17.links
    np.testing.assert_allclose(wb.sigmas[:17], S.coco17.sigmas, rtol=1e-12)
    assert wb.sigmas[91:112] == wb.sigmas[112:] == S.hand21.sigmas
    assert wb.index("face_0") == 23 and wb.index("left_hand_wrist") == 91 and wb.index("right_hand_wrist") == 112
    assert wb.keypoints[91:112] == tuple(f"left_hand_{n}" for n in S.hand21.keypoints)
    p = np.array(wb.flip_indices)
    np.testing.assert_array_equal(p[p], np.arange(133))
    assert p.tolist()[:17] == list(S.coco17.flip_indices)
    assert (p[23:91] - 23).tolist() == list(S.face68.flip_indices)
    assert (p[91:112] == np.arange(112, 133)).all()
    assert len(wb.flip_pairs) == 61


def test_face68_flip_pairs_are_mirror_pairs_on_real_faces() -> None:
    """Mirroring a real annotated face and re-indexing by the flip table gives back (up to a similarity
    transform without reflection) the face itself; swapping the partners of any two flip pairs fits worse."""
    root = shared_path("data", "mmpose_testdata", "tests", "data")
    faces = [np.reshape(a["keypoints"], (68, 3))[:, :2]
             for a in json.loads((root / "300w" / "test_300w.json").read_text())["annotations"]]
    faces += [np.reshape(a["face_kpts"], (68, 3))[:, :2]
              for a in json.loads((root / "coco" / "test_coco_wholebody.json").read_text())["annotations"]
              if a["face_valid"]]
    assert len(faces) >= 4

    def misfit(pairs) -> float:
        perm = list(range(68))
        for a, b in pairs:
            perm[a], perm[b] = b, a
        total = 0.0
        for face in faces:
            x = face - face.mean(0)
            y = (x * [-1.0, 1.0])[perm]
            u, s, vt = np.linalg.svd(x.T @ y)  # rotation R = u diag(1, d) vt maps y onto x (Kabsch, no reflection)
            d = np.sign(np.linalg.det(u @ vt))
            rot = u @ np.diag([1.0, d]) @ vt
            scale = (s * [1.0, d]).sum() / (y**2).sum()
            total += np.sqrt(((scale * y @ rot.T - x) ** 2).sum(1).mean() / (x**2).sum(1).mean())
        return total

    pairs = list(S.face68.flip_pairs)
    base = misfit(pairs)
    assert base < misfit([]) / 2
    for i, j in itertools.combinations(range(len(pairs)), 2):
        (a1, b1), (a2, b2) = pairs[i], pairs[j]
        alt = list(pairs)
        alt[i], alt[j] = (a1, b2), (a2, b1)
        assert misfit(alt) > base, (pairs[i], pairs[j])


def test_blazepose_left_right_on_real_landmarks() -> None:
    """MediaPipe's own output on the (camera-facing) astronaut: every left landmark lies right of its twin."""
    lm = np.load(shared_path("fixtures", "blazepose", "mp_solutions_pose_landmarks_33x5.npy"))
    assert lm.shape == (33, 5)
    for a, b in S.blazepose33.flip_pairs:
        left, right = (a, b) if "left" in S.blazepose33.keypoints[a] else (b, a)
        assert lm[left, 0] > lm[right, 0], S.blazepose33.keypoints[left]
    y = dict(zip(S.blazepose33.keypoints, lm[:, 1]))
    assert y["nose"] < y["left_shoulder"] < y["left_hip"] < y["left_knee"] < y["left_ankle"]  # y down


def test_hand21_links_are_short_on_real_hands() -> None:
    ann = json.loads(shared_path("data", "mmpose_testdata", "tests", "data", "onehand10k",
                                 "test_onehand10k.json").read_text())["annotations"]
    full = [np.reshape(a["keypoints"], (21, 3)) for a in ann if min(a["keypoints"][2::3]) > 0]
    assert full
    for k in full:
        diag = np.hypot(*np.ptp(k[:, :2], axis=0))
        lengths = [np.hypot(*(k[i, :2] - k[j, :2])) for i, j in S.hand21.links]
        assert max(lengths) < 0.5 * diag


# ------------------------------------------------------------------------------------------- Skeleton validation


def test_skeleton_validation_and_defaults() -> None:
    sk = Skeleton("t", ["left_a", "right_a", "mid"], [[0, 2], [1, 2]], flip_pairs=[(0, 1)], sigmas=[0.1, 0.1, 0.2])
    assert sk.keypoints == ("left_a", "right_a", "mid") and sk.links == ((0, 2), (1, 2))
    assert sk.link_colors == (S.CENTER_COLOR, S.CENTER_COLOR)
    assert sk.keypoint_colors == (S.LEFT_COLOR, S.RIGHT_COLOR, S.CENTER_COLOR)
    assert sk == Skeleton("t", ("left_a", "right_a", "mid"), ((0, 2), (1, 2)), ((0, 1),), (0.1, 0.1, 0.2))
    with pytest.raises(ValueError, match="out of range for K=3"):
        Skeleton("t", ("a", "b", "c"), ((0, 3),))
    with pytest.raises(ValueError, match="itself"):
        Skeleton("t", ("a", "b"), ((1, 1),))
    with pytest.raises(ValueError, match="duplicate keypoint names"):
        Skeleton("t", ("a", "a"), ())
    with pytest.raises(ValueError, match="more than one flip pair"):
        Skeleton("t", ("a", "b", "c"), (), flip_pairs=((0, 1), (1, 2)))
    with pytest.raises(ValueError, match="sigmas must be 2"):
        Skeleton("t", ("a", "b"), (), sigmas=(0.1,))
    with pytest.raises(ValueError, match="link_colors has 2 colours, expected 1"):
        Skeleton("t", ("a", "b"), ((0, 1),), link_colors=((1, 2, 3), (4, 5, 6)))
    with pytest.raises(ValueError, match="defines no OKS sigmas"):
        S.lsp14.sigmas_array()
    with pytest.raises(KeyError, match="'lsp14' has no keypoint 'nose'"):
        S.lsp14.index("nose")


# ------------------------------------------------------------------------------------------- mappings


@pytest.mark.parametrize("m", MAPPINGS, ids=_ids)
def test_mapped_names_agree(m: KeypointMapping) -> None:
    for src, dst in m.named_pairs:
        assert src == dst or (src, dst) in RENAMES, (src, dst)
    assert mapping(m.source, m.target) is m


def test_mapping_contents() -> None:
    assert len(S.BLAZEPOSE33_TO_COCO17.pairs) == 17
    assert ("left_shoulder", "left_shoulder") in S.BLAZEPOSE33_TO_COCO17.named_pairs
    assert S.BLAZEPOSE33_TO_COCO17.pairs[S.coco17.index("left_eye")] == (2, 1)  # the eye centre, not inner/outer
    limbs = {f"{s}_{j}" for s in ("left", "right") for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")}
    assert {d for _, d in S.LSP14_TO_COCO17.named_pairs} == limbs
    assert {s for s, _ in S.COCO17_TO_LSP14.named_pairs} == limbs
    assert len(S.MPII16_TO_LSP14.pairs) == 14 and len(S.LSP14_TO_MPII16.pairs) == 14
    assert {d for _, d in S.H36M17_TO_COCO17.named_pairs} == limbs  # no head/neck -> nose guessing
    assert {s for s, _ in S.COCO17_TO_H36M17.named_pairs} == limbs


def test_apply_round_trip_lsp_coco_lsp_on_real_joints() -> None:
    from scipy.io import loadmat

    joints = loadmat(shared_path("data", "lsp", "joints.mat"))["joints"]  # (3, 14, 2000): x, y, occluded
    kpts = np.ascontiguousarray(joints[:2].transpose(2, 1, 0)[:50]).astype(np.float32)  # (50, 14, 2) pixels
    scores = (1.0 - joints[2].T[:50]).astype(np.float32)
    before = (kpts.copy(), scores.copy())
    coco, coco_scores = S.LSP14_TO_COCO17.apply(kpts, scores)
    assert coco.shape == (50, 17, 2) and coco.dtype == np.float32 and coco_scores.shape == (50, 17)
    np.testing.assert_array_equal(coco[:, S.coco17.index("left_wrist")], kpts[:, S.lsp14.index("left_wrist")])
    assert np.isnan(coco[:, :5]).all() and (coco_scores[:, :5] == 0).all()
    back, back_scores = S.COCO17_TO_LSP14.apply(coco, coco_scores)
    np.testing.assert_array_equal(back[:, :12], kpts[:, :12])
    np.testing.assert_array_equal(back_scores[:, :12], scores[:, :12])
    assert np.isnan(back[:, 12:]).all() and (back_scores[:, 12:] == 0).all()  # neck, head_top
    np.testing.assert_array_equal(kpts, before[0])  # inputs untouched
    np.testing.assert_array_equal(scores, before[1])
    composed = S.LSP14_TO_COCO17.then(S.COCO17_TO_LSP14)
    np.testing.assert_array_equal(composed.apply(kpts)[0], back)
    # MPII -> LSP -> MPII keeps the 14 joints LSP has and loses pelvis/thorax.
    mpii = np.random.default_rng(0).normal(size=(3, 16, 2))
    again = S.MPII16_TO_LSP14.then(S.LSP14_TO_MPII16).apply(mpii)[0]
    keep = [i for i, n in enumerate(S.mpii16.keypoints) if n not in ("pelvis", "thorax")]
    np.testing.assert_array_equal(again[:, keep], mpii[:, keep])
    assert np.isnan(again[:, [6, 7]]).all()


def test_apply_shapes_dtypes_and_errors() -> None:
    m = S.H36M17_TO_COCO17
    k3d = np.arange(2 * 4 * 17 * 3, dtype=np.float64).reshape(2, 4, 17, 3)  # any leading dims, any C
    out, sc = m.apply(k3d)
    assert out.shape == (2, 4, 17, 3) and out.dtype == np.float64 and sc is None
    np.testing.assert_array_equal(out[..., S.coco17.index("right_ankle"), :], k3d[..., S.h36m17.index("right_foot"), :])
    assert np.isnan(out[..., S.coco17.index("nose"), :]).all()
    assert m.apply(np.zeros((17, 2), dtype=np.int64))[0].dtype == np.float64  # ints become float (NaN holes)
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, C\) for skeleton 'h36m17', got \(1, 16, 2\)"):
        m.apply(np.zeros((1, 16, 2)))
    with pytest.raises(ValueError, match="scores must have shape"):
        m.apply(np.zeros((2, 17, 2)), np.zeros((2, 16)))
    with pytest.raises(ValueError, match="target index repeats"):
        KeypointMapping(S.lsp14, S.coco17, ((0, 15), (1, 15)))
    with pytest.raises(ValueError, match="out of range"):
        KeypointMapping(S.lsp14, S.coco17, ((14, 0),))
    with pytest.raises(ValueError, match="cannot compose"):
        S.LSP14_TO_COCO17.then(S.LSP14_TO_MPII16)


def test_mapping_lookup() -> None:
    ident = mapping(S.coco17, S.coco17)
    x = np.random.default_rng(1).normal(size=(2, 17, 2)).astype(np.float32)
    y, _ = ident.apply(x)
    np.testing.assert_array_equal(y, x)
    assert y is not x
    # Lookup is by value: an equal skeleton built separately finds the same mapping.
    clone = Skeleton(S.lsp14.name, S.lsp14.keypoints, S.lsp14.links, S.lsp14.flip_pairs)
    assert mapping(clone, S.coco17) is S.LSP14_TO_COCO17
    assert {S.coco17: 1}[Skeleton(**{f: getattr(S.coco17, f) for f in S.coco17.__dataclass_fields__})] == 1
    with pytest.raises(ValueError, match="no keypoint mapping from skeleton 'coco17' to 'mpii16'; defined: "):
        mapping(S.coco17, S.mpii16)


# ------------------------------------------------------------------------------------------- parts


def test_wholebody_and_hand21_parts() -> None:
    wb = S.coco_wholebody133
    assert [p for p, _ in wb.parts] == ["body", "foot", "face", "left_hand", "right_hand"]
    assert sorted(i for _, idx in wb.parts for i in idx) == list(range(133))  # every keypoint in exactly one part
    assert wb.part_indices("foot") == tuple(range(17, 23)) and wb.part_indices("right_hand")[0] == 112
    body = wb.part("body")
    assert (body.keypoints, body.links, body.flip_pairs, body.sigmas) == (
        S.coco17.keypoints, S.coco17.links, S.coco17.flip_pairs, wb.sigmas[:17])
    face = wb.part("face")
    assert face.name == "coco_wholebody133.face" and face.keypoints == S.face68.keypoints
    assert face.links == S.face68.links and face.flip_pairs == S.face68.flip_pairs  # drawn as face68's contours
    np.testing.assert_array_equal(face.sigmas_array(), wb.sigmas_array()[23:91])
    for side in ("left", "right"):
        hand = wb.part(f"{side}_hand")
        assert hand.keypoints == tuple(f"{side}_hand_{n}" for n in S.hand21.keypoints)
        assert hand.sigmas == S.hand21.sigmas and hand.flip_pairs == ()
        # MMPose's hand links: the wrist to each finger's base, then along each finger (hand21's palm differs).
        assert set(hand.links) == {(0, 1), (0, 5), (0, 9), (0, 13), (0, 17)} | {
            (b + j, b + j + 1) for b in (1, 5, 9, 13, 17) for j in range(3)}
        finger_of = {i: f for f, idx in S.hand21.parts for i in idx}
        fingers = dict(S.FINGER_COLORS)
        assert hand.link_colors == tuple(fingers[finger_of[b]] for _, b in hand.links)  # per-finger colours
    assert wb.part("foot").links == () and wb.part("foot").sigmas == wb.sigmas[17:23]  # feet link to the ankles
    assert [p for p, _ in S.hand21.parts] == ["wrist", *fingers]
    for finger, color in fingers.items():
        part = S.hand21.part(finger)
        assert part.num_keypoints == 4 and all(finger in n for n in part.keypoints)
        assert part.links == ((0, 1), (1, 2), (2, 3)) and set(part.link_colors) == {color}
    with pytest.raises(KeyError, match=r"'coco_wholebody133' has no part 'hands'; parts: \['body'"):
        wb.part_indices("hands")
    assert S.coco17.parts == () and hash(wb) == hash(S.coco_wholebody133)


def test_part_validation() -> None:
    names = ("a", "b", "c")
    sk = Skeleton("t", names, ((0, 1), (1, 2)), sigmas=(0.1, 0.2, 0.3), parts=[("x", [0, 1]), ("y", (2,))])
    assert sk.parts == (("x", (0, 1)), ("y", (2,))) and sk.part("x").links == ((0, 1),)
    assert sk != Skeleton("t", names, ((0, 1), (1, 2)), sigmas=(0.1, 0.2, 0.3))  # parts are part of the value
    with pytest.raises(ValueError, match=r"keypoint 1 is in parts 'x' and 'y'"):
        Skeleton("t", names, (), parts=(("x", (0, 1)), ("y", (1, 2))))
    with pytest.raises(ValueError, match=r"part 'x' must list indices in \[0, 3\)"):
        Skeleton("t", names, (), parts=(("x", (0, 3)),))
    with pytest.raises(ValueError, match=r"part 'x' must list indices"):
        Skeleton("t", names, (), parts=(("x", ()),))
    with pytest.raises(ValueError, match="part 'x' lists a keypoint twice"):
        Skeleton("t", names, (), parts=(("x", (0, 0)),))
    with pytest.raises(ValueError, match="duplicate part names"):
        Skeleton("t", names, (), parts=(("x", (0,)), ("x", (1,))))


# ------------------------------------------------------------------------------------------- WholeBody mappings


def _wholebody_annotations() -> list[tuple[dict, np.ndarray]]:
    """(annotation, (133, 3) x, y, v) for every annotation of MMPose's COCO-WholeBody test file."""
    path = shared_path("data", "mmpose_testdata", "tests", "data", "coco", "test_coco_wholebody.json")
    keys = ("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")
    return [(a, np.concatenate([np.reshape(a[k], (-1, 3)) for k in keys]).astype(np.float64))
            for a in json.loads(path.read_text())["annotations"]]


def test_wholebody_mapping_contents() -> None:
    wb = S.coco_wholebody133
    assert S.COCO_WHOLEBODY133_TO_COCO17.pairs == tuple((i, i) for i in range(17))
    assert S.COCO_WHOLEBODY133_TO_COCO17.named_pairs == tuple(zip(S.coco17.keypoints, S.coco17.keypoints))
    renamed = {(s, d) for s, d in S.COCO_WHOLEBODY133_TO_BLAZEPOSE33.named_pairs if s != d}
    assert renamed == {
        ("face_36", "right_eye_outer"), ("face_39", "right_eye_inner"), ("face_42", "left_eye_inner"),
        ("face_45", "left_eye_outer"), ("face_48", "mouth_right"), ("face_54", "mouth_left"),
        ("left_hand_pinky_mcp", "left_pinky"), ("right_hand_pinky_mcp", "right_pinky"),
        ("left_hand_index_finger_mcp", "left_index"), ("right_hand_index_finger_mcp", "right_index"),
    }
    same = {d for s, d in S.COCO_WHOLEBODY133_TO_BLAZEPOSE33.named_pairs if s == d}
    assert same == set(S.coco17.keypoints) | {"left_heel", "right_heel"}
    unmapped = set(S.blazepose33.keypoints) - same - {d for _, d in renamed}
    assert unmapped == {"left_thumb", "right_thumb", "left_foot_index", "right_foot_index"}
    for side, m in (("left", S.COCO_WHOLEBODY133_TO_HAND21_LEFT), ("right", S.COCO_WHOLEBODY133_TO_HAND21_RIGHT)):
        assert m.named_pairs == tuple((f"{side}_hand_{n}", n) for n in S.hand21.keypoints)
        assert [s for s, _ in m.pairs] == list(wb.part_indices(f"{side}_hand"))
    assert mapping(wb, S.coco17) is S.COCO_WHOLEBODY133_TO_COCO17
    assert mapping(wb, S.blazepose33) is S.COCO_WHOLEBODY133_TO_BLAZEPOSE33
    with pytest.raises(ValueError, match="'coco_wholebody133' to 'hand21' is ambiguous: use one of "
                       "posekit.skeletons.COCO_WHOLEBODY133_TO_HAND21_LEFT, "
                       "posekit.skeletons.COCO_WHOLEBODY133_TO_HAND21_RIGHT"):
        mapping(wb, S.hand21)
    with pytest.raises(ValueError, match="no keypoint mapping from skeleton 'coco_wholebody133' to 'ap10k17'"):
        mapping(wb, S.ap10k17)
    # Composition: WholeBody -> BlazePose -> COCO is WholeBody -> COCO.
    composed = S.COCO_WHOLEBODY133_TO_BLAZEPOSE33.then(S.BLAZEPOSE33_TO_COCO17)
    assert composed.pairs == S.COCO_WHOLEBODY133_TO_COCO17.pairs


def test_wholebody_mappings_on_real_annotations() -> None:
    """On real COCO-WholeBody labels the mapped BlazePose / hand points sit where their names say: eye corners
    around the eye they belong to, the subject's left hand, heel and mouth corner on the subject's left."""
    anns = _wholebody_annotations()
    kpts = np.stack([k[:, :2] for _, k in anns])
    flags = np.stack([k[:, 2] for _, k in anns])
    kpts[flags == 0] = np.nan  # unlabelled
    bp, bp_flags = S.COCO_WHOLEBODY133_TO_BLAZEPOSE33.apply(kpts, flags)
    assert bp.shape == (len(anns), 33, 2) and bp_flags.shape == (len(anns), 33)
    np.testing.assert_array_equal(bp[:, :1], kpts[:, :1])
    i = {n: j for j, n in enumerate(S.blazepose33.keypoints)}
    assert np.isnan(bp[:, [i["left_thumb"], i["right_foot_index"]]]).all()
    assert (bp_flags[:, [i["left_thumb"], i["right_foot_index"]]] == 0).all()

    def near(point: str, to: str, other: str) -> int:
        """How many annotations label all three points; asserts ``point`` is nearer ``to`` than ``other``."""
        p, a, b = bp[:, i[point]], bp[:, i[to]], bp[:, i[other]]
        ok = np.isfinite(p + a + b).all(1)
        da, db = np.hypot(*(p - a)[ok].T), np.hypot(*(p - b)[ok].T)
        assert (da < db).all(), (point, da, db)
        return int(ok.sum())

    for side, other in (("left", "right"), ("right", "left")):
        assert near(f"{side}_heel", f"{side}_ankle", f"{other}_ankle") >= 6
        assert near(f"{side}_index", f"{side}_wrist", f"{other}_wrist") >= 4
        assert near(f"{side}_pinky", f"{side}_wrist", f"{other}_wrist") >= 4
    # Along the axis from the (COCO-labelled) right eye to the left eye, the face's corners come in the order
    # right outer, right inner, left inner, left outer, and the right mouth corner before the left one (this holds
    # for the three-quarter face of image 197388 too, where distances to the eye centres do not tell the sides).
    faces = np.isfinite(bp[:, [i["left_eye_outer"], i["right_eye"], i["left_eye"]]]).all((1, 2))
    axis = bp[faces, i["left_eye"]] - bp[faces, i["right_eye"]]
    along = {n: ((bp[faces, i[n]] - bp[faces, i["right_eye"]]) * axis).sum(1) for n in i}
    order = ["right_eye_outer", "right_eye_inner", "left_eye_inner", "left_eye_outer"]
    assert faces.sum() >= 4
    for a, b in itertools.pairwise(order):
        assert (along[a] < along[b]).all(), (a, b)
    assert (along["mouth_right"] < along["mouth_left"]).all()
    # Each hand mapping takes the hand of its side: its wrist is that side's body wrist's neighbour, and the
    # hand keypoints come out unchanged (left and right differ).
    for m, side, other in ((S.COCO_WHOLEBODY133_TO_HAND21_LEFT, 9, 10), (S.COCO_WHOLEBODY133_TO_HAND21_RIGHT, 10, 9)):
        hand, _ = m.apply(kpts)
        ok = np.isfinite(hand[:, 0] + kpts[:, side] + kpts[:, other]).all(1)
        assert ok.sum() >= 4
        assert (np.hypot(*(hand[ok, 0] - kpts[ok, side]).T) < np.hypot(*(hand[ok, 0] - kpts[ok, other]).T)).all()
        np.testing.assert_array_equal(hand, kpts[:, [s for s, _ in m.pairs]])
    body, _ = S.COCO_WHOLEBODY133_TO_COCO17.apply(kpts)
    np.testing.assert_array_equal(body, kpts[:, :17])
