"""Keypoint skeletons: names, links, flip pairs, OKS sigmas and colours, plus mappings between them.

A :class:`Skeleton` is plain data. Keypoint index ``k`` of an ``(N, K, 2)`` array refers to
``skeleton.keypoints[k]``. Links and flip pairs are index pairs into that tuple.

Tables (module constants; raw data in :mod:`posekit._skeleton_tables`, sources listed there):

========================  ====  ==========================================================  ===================
table                     K     keypoint order                                              OKS sigmas
========================  ====  ==========================================================  ===================
``coco17``                17    COCO person keypoints                                       pycocotools (exact)
``mpii16``                16    MPII (legs, pelvis, thorax, upper_neck, head_top, arms)     MMPose ``mpii.py``
``lsp14``                 14    Leeds Sports Pose ``joints.mat``                            none
``h36m17``                17    Human3.6M as VideoPose3D / MMPose (root = pelvis)           none
``coco_wholebody133``     133   COCO-WholeBody: body, feet, face 68, left, right hand       MMPose
``hand21``                21    MediaPipe hand (= MMPose onehand10k / WholeBody hand)       COCO-WholeBody hand
``face68``                68    iBUG 300-W                                                  none
``mediapipe_face468``     468   MediaPipe face mesh ``face_{i}``, FACEMESH_CONTOURS links   none
``blazepose33``           33    MediaPipe pose landmarks                                    none
``ap10k17``               17    AP-10K animals                                              MMPose ``ap10k.py``
``posetrack18``           17    PoseTrack18: COCO's, head_bottom / head_top for the eyes    COCO's (MMPose)
========================  ====  ==========================================================  ===================

"left"/"right" in names are the subject's sides. Names are posekit's snake_case spelling; the order (and hence
every index) is the source dataset's; e.g. COCO-WholeBody's MMPose names ``face-0`` / ``left_thumb1`` are
``face_0`` / ``left_hand_thumb_cmc`` here (its hands reuse ``hand21``'s names, ``left_hand_wrist`` is MMPose's
``left_hand_root``), and AP-10K's ``L_F_Paw`` is ``left_front_paw``. Flip pairs of named tables pair every
``left`` name with its ``right`` twin; ``face68`` (and the face part of ``coco_wholebody133``) use MMPose's 300-W
pairs; ``mediapipe_face468`` has none.

Colours (RGB, MMPose's palette): limbs whose two ends are on the subject's left are green ``(0, 255, 0)``, on the
right orange ``(255, 128, 0)``, everything else (torso, head, links across the midline) blue ``(51, 153, 255)``;
keypoints likewise, with eyes/ears/nose/mouth counted as head (blue). Hand fingers (``hand21`` and the hands of
``coco_wholebody133``) use MMPose's per-finger colours, face points and links are white. Skeletons built without
colours get the side palette.

Parts (:attr:`Skeleton.parts`): ``coco_wholebody133`` has ``body`` (0-16), ``foot`` (17-22), ``face`` (23-90),
``left_hand`` (91-111) and ``right_hand`` (112-132); ``hand21`` has ``wrist`` and one part per finger (``thumb``,
``index``, ``middle``, ``ring``, ``pinky``). :meth:`Skeleton.part_indices` gives a part's indices and
:meth:`Skeleton.part` the part as a skeleton of its own (with its sigmas, e.g. for per-part OKS).
:func:`posekit.viz.draw` draws face parts thinner and hand parts slightly thinner than the body.

Mappings between tables are :class:`KeypointMapping` constants (``BLAZEPOSE33_TO_COCO17`` ...) found by
:func:`mapping`. They pair only joints that are the same anatomical point; see each constant's comment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from posekit import _skeleton_tables as _t
from posekit.keypoint_mapping import KeypointMapping

Color = tuple[int, int, int]

LEFT_COLOR: Color = (0, 255, 0)
RIGHT_COLOR: Color = (255, 128, 0)
CENTER_COLOR: Color = (51, 153, 255)
FACE_COLOR: Color = (255, 255, 255)
FINGER_COLORS: tuple[tuple[str, Color], ...] = (
    ("thumb", (255, 128, 0)), ("index", (255, 153, 255)), ("middle", (102, 178, 255)),
    ("ring", (255, 51, 51)), ("pinky", (0, 255, 0)),
)
_HEAD_TOKENS = frozenset({"eye", "ear", "nose", "mouth"})


@dataclass(frozen=True)
class Skeleton:
    """A keypoint layout.

    Attributes:
        name: short identifier, e.g. ``"coco17"``.
        keypoints: K keypoint names in model output order.
        links: pairs ``(i, j)`` of keypoint indices drawn as limbs.
        flip_pairs: index pairs swapped by a horizontal flip (each unordered pair once; the order inside a
            pair carries no meaning, e.g. MPII's is ``(right_ankle, left_ankle)``).
        sigmas: K per-keypoint OKS sigmas (COCO convention), or ``None`` when undefined.
        link_colors: one RGB colour per link (defaults to the side palette, see the module docstring).
        keypoint_colors: one RGB colour per keypoint (defaults to the side palette).
        parts: named groups of keypoint indices, ``((part name, indices), ...)``, e.g. ``coco_wholebody133``'s
            body / foot / face / left_hand / right_hand; empty by default. A keypoint is in at most one part;
            keypoints in none are allowed. See :meth:`part_indices` and :meth:`part`.

    Sequences are normalised to tuples, so skeletons are hashable and compare by value.
    Raises ``ValueError`` naming the skeleton on duplicate names, out-of-range or self links, a keypoint in
    two flip pairs, sigma/colour counts that do not match, or parts that repeat a name, are empty, hold an
    out-of-range index or share a keypoint.
    """

    name: str
    keypoints: tuple[str, ...]
    links: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...] = ()
    sigmas: tuple[float, ...] | None = None
    link_colors: tuple[Color, ...] = field(default=(), repr=False)
    keypoint_colors: tuple[Color, ...] = field(default=(), repr=False)
    parts: tuple[tuple[str, tuple[int, ...]], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        def pairs(what: str, value) -> tuple[tuple[int, int], ...]:
            out = tuple((int(a), int(b)) for a, b in value)
            for a, b in out:
                if not (0 <= a < k and 0 <= b < k):
                    raise ValueError(f"skeleton {self.name!r}: {what} ({a}, {b}) out of range for K={k}")
                if a == b:
                    raise ValueError(f"skeleton {self.name!r}: {what} ({a}, {b}) joins a keypoint to itself")
            return out

        def colors(what: str, value, n: int) -> tuple[Color, ...]:
            out = tuple((int(c[0]), int(c[1]), int(c[2])) for c in value)
            if len(out) != n:
                raise ValueError(f"skeleton {self.name!r}: {what} has {len(out)} colours, expected {n}")
            return out

        names = tuple(str(n) for n in self.keypoints)
        k = len(names)
        if len(set(names)) != k:
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"skeleton {self.name!r}: duplicate keypoint names {dup}")
        links = pairs("link", self.links)
        flips = pairs("flip pair", self.flip_pairs)
        used = [i for pair in flips for i in pair]
        if len(set(used)) != len(used):
            raise ValueError(f"skeleton {self.name!r}: a keypoint appears in more than one flip pair")
        sigmas = None
        if self.sigmas is not None:
            sigmas = tuple(float(s) for s in self.sigmas)
            if len(sigmas) != k or not all(s > 0 for s in sigmas):
                raise ValueError(f"skeleton {self.name!r}: sigmas must be {k} positive numbers, got {len(sigmas)}")
        default_links, default_kpts = side_colors(names, links)
        parts = tuple((str(p), tuple(int(i) for i in idx)) for p, idx in self.parts)
        seen: dict[int, str] = {}
        for p, idx in parts:
            if not idx or not all(0 <= i < k for i in idx):
                raise ValueError(f"skeleton {self.name!r}: part {p!r} must list indices in [0, {k}), got {idx}")
            if len(set(idx)) != len(idx):
                raise ValueError(f"skeleton {self.name!r}: part {p!r} lists a keypoint twice")
            for i in idx:
                if seen.setdefault(i, p) != p:
                    raise ValueError(f"skeleton {self.name!r}: keypoint {i} is in parts {seen[i]!r} and {p!r}")
        if len({p for p, _ in parts}) != len(parts):
            raise ValueError(f"skeleton {self.name!r}: duplicate part names {[p for p, _ in parts]}")
        set_ = object.__setattr__
        set_(self, "keypoints", names)
        set_(self, "links", links)
        set_(self, "flip_pairs", flips)
        set_(self, "sigmas", sigmas)
        set_(self, "link_colors", colors("link_colors", self.link_colors or default_links, len(links)))
        set_(self, "keypoint_colors", colors("keypoint_colors", self.keypoint_colors or default_kpts, k))
        set_(self, "parts", parts)

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    @property
    def flip_indices(self) -> tuple[int, ...]:
        """Permutation ``p`` with ``flipped[k] = original[p[k]]`` (an involution)."""
        idx = list(range(self.num_keypoints))
        for a, b in self.flip_pairs:
            idx[a], idx[b] = b, a
        return tuple(idx)

    def index(self, name: str) -> int:
        """Index of keypoint ``name``; raises ``KeyError`` naming the skeleton when absent."""
        try:
            return self.keypoints.index(name)
        except ValueError:
            raise KeyError(f"skeleton {self.name!r} has no keypoint {name!r}") from None

    def part_indices(self, name: str) -> tuple[int, ...]:
        """Keypoint indices of part ``name`` (in the order the part lists them); ``KeyError`` naming the
        skeleton and its parts when there is no such part."""
        for p, idx in self.parts:
            if p == name:
                return idx
        raise KeyError(f"skeleton {self.name!r} has no part {name!r}; parts: {[p for p, _ in self.parts]}")

    def part(self, name: str) -> Skeleton:
        """Part ``name`` as its own skeleton ``"{self.name}.{name}"``: keypoint ``j`` of it is keypoint
        ``part_indices(name)[j]`` here (so ``keypoints[..., part_indices(name), :]`` is in its order); links and
        flip pairs with both ends in the part, with their colours; the part's sigmas (``None`` when undefined).
        """
        idx = self.part_indices(name)
        new = {old: j for j, old in enumerate(idx)}
        links = [(li, (new[a], new[b])) for li, (a, b) in enumerate(self.links) if a in new and b in new]
        return Skeleton(
            f"{self.name}.{name}", tuple(self.keypoints[i] for i in idx), tuple(pair for _, pair in links),
            tuple((new[a], new[b]) for a, b in self.flip_pairs if a in new and b in new),
            None if self.sigmas is None else tuple(self.sigmas[i] for i in idx),
            tuple(self.link_colors[li] for li, _ in links), tuple(self.keypoint_colors[i] for i in idx),
        )

    def sigmas_array(self) -> np.ndarray:
        """(K,) float64 OKS sigmas; raises ``ValueError`` when the skeleton defines none."""
        if self.sigmas is None:
            raise ValueError(f"skeleton {self.name!r} defines no OKS sigmas")
        return np.asarray(self.sigmas, dtype=np.float64)


# ---------------------------------------------------------------------------------------------- palette helpers


def _tokens(name: str) -> set[str]:
    return set(name.lower().replace("-", "_").split("_"))


def _side(name: str) -> Color:
    tokens = _tokens(name)
    if "face" in tokens:
        return FACE_COLOR
    if tokens & _HEAD_TOKENS:
        return CENTER_COLOR
    if "left" in tokens and "right" not in tokens:
        return LEFT_COLOR
    if "right" in tokens and "left" not in tokens:
        return RIGHT_COLOR
    return CENTER_COLOR


def _finger(name: str) -> Color | None:
    tokens = _tokens(name)
    return next((c for finger, c in FINGER_COLORS if finger in tokens), None)


def side_colors(
    keypoints: tuple[str, ...], links: tuple[tuple[int, int], ...], *, fingers: bool = False
) -> tuple[tuple[Color, ...], tuple[Color, ...]]:
    """(link colours, keypoint colours) from keypoint names, by the rules in the module docstring.

    With ``fingers=True`` keypoints naming a finger (thumb, index, middle, ring, pinky) take that finger's colour
    and a link touching a finger takes the colour of its second finger end.
    """
    kpt = [(_finger(n) if fingers else None) or _side(n) for n in keypoints]
    out = []
    for a, b in links:
        finger = (_finger(keypoints[b]) or _finger(keypoints[a])) if fingers else None
        sa, sb = _side(keypoints[a]), _side(keypoints[b])
        out.append(finger or (sa if sa == sb else CENTER_COLOR))
    return tuple(out), tuple(kpt)


def _flip_pairs_by_name(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Pairs (i, j), i < j, whose names differ only by a ``left`` <-> ``right`` token."""

    def mirror(name: str) -> str:
        swap = {"left": "right", "right": "left"}
        return "_".join(swap.get(t, t) for t in name.split("_"))

    index = {n: i for i, n in enumerate(names)}
    return tuple((i, index[mirror(n)]) for i, n in enumerate(names) if index.get(mirror(n), i) > i)


def _named(name: str, names, links, *, sigmas=None, flip_pairs=None, fingers: bool = False, parts=()) -> Skeleton:
    names = tuple(names)
    link_colors, kpt_colors = side_colors(names, tuple(links), fingers=fingers)
    return Skeleton(
        name, names, tuple(links), _flip_pairs_by_name(names) if flip_pairs is None else tuple(flip_pairs),
        None if sigmas is None else tuple(sigmas), link_colors, kpt_colors, tuple(parts),
    )


# ---------------------------------------------------------------------------------------------- tables

coco17 = _named("coco17", _t.COCO17_NAMES, _t.COCO17_LINKS, sigmas=[s / 10.0 for s in _t.COCO17_SIGMAS_X10])
mpii16 = _named("mpii16", _t.MPII16_NAMES, _t.MPII16_LINKS, sigmas=_t.MPII16_SIGMAS)
lsp14 = _named("lsp14", _t.LSP14_NAMES, _t.LSP14_LINKS)
# PoseTrack18: COCO's 17 keypoints with the eyes replaced by head_bottom and head_top, COCO's links; OKS sigmas as
# MMPose's posetrack18 dataset config gives them (COCO's).
posetrack18 = _named("posetrack18", ("nose", "head_bottom", "head_top") + _t.COCO17_NAMES[3:], _t.COCO17_LINKS,
                     sigmas=[s / 10.0 for s in _t.COCO17_SIGMAS_X10])
h36m17 = _named("h36m17", _t.H36M17_NAMES, _t.H36M17_LINKS)
ap10k17 = _named("ap10k17", _t.AP10K17_NAMES, _t.AP10K17_LINKS, sigmas=_t.AP10K17_SIGMAS)
hand21 = _named("hand21", _t.HAND21_NAMES, _t.HAND21_LINKS, sigmas=_t.HAND21_SIGMAS, fingers=True,
                parts=_t.HAND21_PARTS)
face68 = _named("face68", [f"face_{i}" for i in range(68)], _t.FACE68_LINKS, flip_pairs=_t.FACE68_FLIP_PAIRS)
blazepose33 = _named("blazepose33", _t.BLAZEPOSE33_NAMES, _t.BLAZEPOSE33_LINKS)
mediapipe_face468 = _named(
    "mediapipe_face468", [f"face_{i}" for i in range(468)],
    _t.FACEMESH_LIPS + _t.FACEMESH_LEFT_EYE + _t.FACEMESH_LEFT_EYEBROW + _t.FACEMESH_RIGHT_EYE
    + _t.FACEMESH_RIGHT_EYEBROW + _t.FACEMESH_FACE_OVAL,
    flip_pairs=(),
)
# Links: MMPose's 65 (body, feet, hands; same order and indices) followed by face68's contours on the face
# keypoints (MMPose draws the face as dots only; the contours are for drawing, they change no metric).
coco_wholebody133 = _named(
    "coco_wholebody133",
    _t.COCO17_NAMES + _t.WHOLEBODY_FEET_NAMES + face68.keypoints
    + tuple(f"left_hand_{n}" for n in _t.HAND21_NAMES) + tuple(f"right_hand_{n}" for n in _t.HAND21_NAMES),
    _t.WHOLEBODY133_LINKS + tuple((a + 23, b + 23) for a, b in _t.FACE68_LINKS),
    sigmas=_t.WHOLEBODY133_SIGMAS,
    flip_pairs=(
        _flip_pairs_by_name(_t.COCO17_NAMES + _t.WHOLEBODY_FEET_NAMES)
        + tuple((a + 23, b + 23) for a, b in _t.FACE68_FLIP_PAIRS)
        + tuple((91 + i, 112 + i) for i in range(21))
    ),
    fingers=True,
    parts=_t.WHOLEBODY133_PARTS,
)


# ---------------------------------------------------------------------------------------------- mappings


def _by_name(source: Skeleton, target: Skeleton, renames: tuple[tuple[str, str], ...] = ()) -> KeypointMapping:
    """Pairs every target keypoint whose name also exists in ``source``, plus the explicit ``renames``."""
    pairs = [(source.index(n), d) for d, n in enumerate(target.keypoints) if n in source.keypoints]
    pairs += [(source.index(s), target.index(d)) for s, d in renames]
    return KeypointMapping(source, target, tuple(sorted(pairs, key=lambda p: p[1])))


# All 17 COCO keypoints exist in BlazePose under the same names (BlazePose's eye centres are the COCO eyes).
BLAZEPOSE33_TO_COCO17 = _by_name(blazepose33, coco17)
# The 12 limb joints both share (shoulders, elbows, wrists, hips, knees, ankles). COCO's face points and LSP's
# neck / head_top have no counterpart and come out missing.
LSP14_TO_COCO17 = _by_name(lsp14, coco17)
COCO17_TO_LSP14 = _by_name(coco17, lsp14)
# MPII's joint set extends LSP's (it adds pelvis and thorax): LSP's "neck" is MPII's "upper_neck", the standard
# correspondence used when training or evaluating across the two. MPII pelvis/thorax have no LSP counterpart.
MPII16_TO_LSP14 = _by_name(mpii16, lsp14, (("upper_neck", "neck"),))
LSP14_TO_MPII16 = _by_name(lsp14, mpii16, (("neck", "upper_neck"),))
# Hips, knees, ankles, shoulders, elbows, wrists only; H3.6M's "foot" joints are the ankles. H3.6M's head,
# neck_base, thorax, spine and root are not COCO's nose/eyes/ears (nor any COCO point) and are not mapped.
H36M17_TO_COCO17 = _by_name(h36m17, coco17, (("right_foot", "right_ankle"), ("left_foot", "left_ankle")))
COCO17_TO_H36M17 = _by_name(coco17, h36m17, (("right_ankle", "right_foot"), ("left_ankle", "left_foot")))

# PoseTrack18 and COCO share 15 keypoints by name; PoseTrack's head_bottom / head_top and COCO's eyes have no
# counterpart.
COCO17_TO_POSETRACK18 = _by_name(coco17, posetrack18)
POSETRACK18_TO_COCO17 = _by_name(posetrack18, coco17)

# COCO-WholeBody's first 17 keypoints are COCO's (same names, order and definitions).
COCO_WHOLEBODY133_TO_COCO17 = _by_name(coco_wholebody133, coco17)
# The 17 COCO points and the heels by name, plus points both define as the same anatomical landmark:
# - eye corners and mouth corners: 300-W face points 36/39 (right eye outer/inner canthus), 42/45 (left eye
#   inner/outer), 48/54 (right/left mouth corner), subject's sides, against BlazePose's eye_inner/eye_outer and
#   mouth_left/right;
# - BlazePose's left/right_pinky and left/right_index, which MediaPipe's landmark figure labels "pinky #1 knuckle"
#   and "index #1 knuckle": the finger's base knuckle, i.e. the hand's pinky_mcp / index_finger_mcp.
# Not mapped: BlazePose's thumb ("thumb #2 knuckle": which thumb joint that counts as #2 -- MCP or IP -- is
# not defined) and foot_index (MediaPipe names it only "foot index", not the big-toe tip that WholeBody's
# big_toe is); WholeBody's small toes have no BlazePose counterpart.
COCO_WHOLEBODY133_TO_BLAZEPOSE33 = _by_name(coco_wholebody133, blazepose33, (
    ("face_36", "right_eye_outer"), ("face_39", "right_eye_inner"), ("face_42", "left_eye_inner"),
    ("face_45", "left_eye_outer"), ("face_48", "mouth_right"), ("face_54", "mouth_left"),
    ("left_hand_pinky_mcp", "left_pinky"), ("right_hand_pinky_mcp", "right_pinky"),
    ("left_hand_index_finger_mcp", "left_index"), ("right_hand_index_finger_mcp", "right_index"),
))
# One WholeBody hand as hand21 (same 21 points, same order): left hand 91-111, right hand 112-132. There are two,
# so mapping(coco_wholebody133, hand21) is ambiguous and raises, naming both.
COCO_WHOLEBODY133_TO_HAND21_LEFT = KeypointMapping(coco_wholebody133, hand21, tuple((91 + i, i) for i in range(21)))
COCO_WHOLEBODY133_TO_HAND21_RIGHT = KeypointMapping(coco_wholebody133, hand21, tuple((112 + i, i) for i in range(21)))
# ap10k17 (animals) maps to no human table.

_MAPPINGS = (
    BLAZEPOSE33_TO_COCO17, LSP14_TO_COCO17, COCO17_TO_LSP14, MPII16_TO_LSP14, LSP14_TO_MPII16,
    H36M17_TO_COCO17, COCO17_TO_H36M17, COCO17_TO_POSETRACK18, POSETRACK18_TO_COCO17,
    COCO_WHOLEBODY133_TO_COCO17, COCO_WHOLEBODY133_TO_BLAZEPOSE33, COCO_WHOLEBODY133_TO_HAND21_LEFT,
    COCO_WHOLEBODY133_TO_HAND21_RIGHT,
)


def named(name: object) -> Skeleton | None:
    """The skeleton of this module called ``name`` (e.g. ``"coco17"``), or ``None`` for anything else."""
    value = globals().get(name) if isinstance(name, str) else None
    return value if isinstance(value, Skeleton) else None


def mapping(source: Skeleton, target: Skeleton) -> KeypointMapping:
    """The defined :class:`KeypointMapping` from ``source`` to ``target`` (identity when they are equal).

    Raises ``ValueError`` listing the defined mappings when there is none (use :meth:`KeypointMapping.then`
    to compose two), or naming the candidate constants when there are several (``coco_wholebody133`` ->
    ``hand21``: ``COCO_WHOLEBODY133_TO_HAND21_LEFT`` / ``_RIGHT``).
    """
    if source == target:
        return KeypointMapping(source, target, tuple((i, i) for i in range(source.num_keypoints)))
    found = [m for m in _MAPPINGS if m.source == source and m.target == target]
    if len(found) == 1:
        return found[0]
    if found:
        names = [n for m in found for n, v in globals().items() if v is m]
        raise ValueError(f"the mapping from skeleton {source.name!r} to {target.name!r} is ambiguous: use one of "
                         f"posekit.skeletons.{', posekit.skeletons.'.join(names)}")
    known = ", ".join(f"{m.source.name} -> {m.target.name}" for m in _MAPPINGS)
    raise ValueError(f"no keypoint mapping from skeleton {source.name!r} to {target.name!r}; defined: {known}")
