"""Raw keypoint tables (names, links, sigmas) behind :mod:`posekit.skeletons`.

Plain tuples only; :mod:`posekit.skeletons` turns them into :class:`~posekit.skeletons.Skeleton` objects.
Links and flip pairs are index pairs into the matching names tuple.

Sources (facts transcribed, no code copied):
- MMPose 1.3.2 ``configs/_base_/datasets/{coco,mpii,h36m,ap10k,coco_wholebody,coco_wholebody_hand,300w}.py``:
  keypoint order, links (``skeleton_info``), OKS sigmas, 300W flip pairs.
- pycocotools ``COCOeval.Params.setKpParams``: COCO sigmas, written there as ``[.26, ..., .89] / 10.0``.
- MediaPipe 0.10.14 ``mediapipe/python/solutions/{pose,hands}.py`` (landmark enums), ``pose_connections.py``,
  ``hands_connections.py`` and ``face_mesh_connections.py`` (``FACEMESH_*`` contour groups, in file order).
- LSP: Johnson & Everingham's ``joints.mat`` order; 68-point face contours: the iBUG/dlib drawing convention.
"""

from __future__ import annotations

# ---- COCO 17 (MMPose coco.py; order of COCO's person category) ----

COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
)

COCO17_LINKS = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9), (8, 10),
    (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)

# pycocotools writes the COCO sigmas as these values / 10.0; dividing the same way keeps them bit-identical.
COCO17_SIGMAS_X10 = (
    0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89,
)

# ---- MPII 16 (MMPose mpii.py) ----

MPII16_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax", "upper_neck",
    "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
)

MPII16_LINKS = (
    (0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9), (8, 12), (12, 11), (11, 10), (8, 13),
    (13, 14), (14, 15),
)

MPII16_SIGMAS = (
    0.089, 0.083, 0.107, 0.107, 0.083, 0.089, 0.026, 0.026, 0.026, 0.026, 0.062, 0.072, 0.179, 0.179, 0.072, 0.062,
)

# ---- LSP 14 (joints.mat order; no MMPose config, links chosen here) ----

LSP14_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist", "right_elbow",
    "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head_top",
)

LSP14_LINKS = (
    (0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (2, 8), (3, 9), (6, 7), (7, 8), (8, 12), (12, 9), (9, 10), (10, 11),
    (12, 13),
)

# ---- Human3.6M 17 (MMPose h36m.py, VideoPose3D order; the "foot" joints sit at the ankles) ----

H36M17_NAMES = (
    "root", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot", "spine", "thorax",
    "neck_base", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
)

H36M17_LINKS = (
    (0, 4), (4, 5), (5, 6), (0, 1), (1, 2), (2, 3), (0, 7), (7, 8), (8, 9), (9, 10), (8, 11), (11, 12), (12, 13),
    (8, 14), (14, 15), (15, 16),
)

# ---- AP-10K 17 animal keypoints (MMPose ap10k.py; names lower-cased, L_/R_ spelled out, F/B = front/back) ----

AP10K17_NAMES = (
    "left_eye", "right_eye", "nose", "neck", "root_of_tail", "left_shoulder", "left_elbow", "left_front_paw",
    "right_shoulder", "right_elbow", "right_front_paw", "left_hip", "left_knee", "left_back_paw", "right_hip",
    "right_knee", "right_back_paw",
)

AP10K17_LINKS = (
    (0, 1), (0, 2), (1, 2), (2, 3), (3, 4), (3, 5), (5, 6), (6, 7), (3, 8), (8, 9), (9, 10), (4, 11), (11, 12),
    (12, 13), (4, 14), (14, 15), (15, 16),
)

AP10K17_SIGMAS = (
    0.025, 0.025, 0.026, 0.035, 0.035, 0.079, 0.072, 0.062, 0.079, 0.072, 0.062, 0.107, 0.087, 0.089, 0.107, 0.087,
    0.089,
)

# ---- Hand 21 (MediaPipe HandLandmark order == MMPose onehand10k / coco_wholebody_hand order) ----

HAND21_NAMES = (
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip", "index_finger_mcp", "index_finger_pip",
    "index_finger_dip", "index_finger_tip", "middle_finger_mcp", "middle_finger_pip", "middle_finger_dip",
    "middle_finger_tip", "ring_finger_mcp", "ring_finger_pip", "ring_finger_dip", "ring_finger_tip", "pinky_mcp",
    "pinky_pip", "pinky_dip", "pinky_tip",
)

# MediaPipe HAND_CONNECTIONS: palm, thumb, index, middle, ring, pinky groups in that order.
HAND21_LINKS = (
    (0, 1), (0, 5), (9, 13), (13, 17), (5, 9), (0, 17), (1, 2), (2, 3), (3, 4), (5, 6), (6, 7), (7, 8), (9, 10),
    (10, 11), (11, 12), (13, 14), (14, 15), (15, 16), (17, 18), (18, 19), (19, 20),
)

# Per-finger parts (names as in skeletons.FINGER_COLORS; the wrist is its own part).
HAND21_PARTS = (
    ("wrist", (0,)), ("thumb", (1, 2, 3, 4)), ("index", (5, 6, 7, 8)), ("middle", (9, 10, 11, 12)),
    ("ring", (13, 14, 15, 16)), ("pinky", (17, 18, 19, 20)),
)

# COCO-WholeBody hand sigmas (MMPose coco_wholebody_hand.py).
HAND21_SIGMAS = (
    0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022, 0.026, 0.017, 0.021, 0.021,
    0.032, 0.02, 0.019, 0.022, 0.031,
)

# ---- Face 68 (iBUG 300-W): jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, lips 48-67 ----

# MMPose 300w.py flip pairs.
FACE68_FLIP_PAIRS = (
    (0, 16), (1, 15), (2, 14), (3, 13), (4, 12), (5, 11), (6, 10), (7, 9), (17, 26), (18, 25), (19, 24), (20, 23),
    (21, 22), (31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46), (48, 54), (49, 53),
    (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67),
)

# Contours as dlib's render_face_detections draws them (nose bottom closed on point 30).
FACE68_LINKS = (
    (0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (8, 9), (9, 10), (10, 11), (11, 12), (12, 13),
    (13, 14), (14, 15), (15, 16), (17, 18), (18, 19), (19, 20), (20, 21), (22, 23), (23, 24), (24, 25), (25, 26),
    (27, 28), (28, 29), (29, 30), (30, 31), (31, 32), (32, 33), (33, 34), (34, 35), (35, 30), (36, 37), (37, 38),
    (38, 39), (39, 40), (40, 41), (41, 36), (42, 43), (43, 44), (44, 45), (45, 46), (46, 47), (47, 42), (48, 49),
    (49, 50), (50, 51), (51, 52), (52, 53), (53, 54), (54, 55), (55, 56), (56, 57), (57, 58), (58, 59), (59, 48),
    (60, 61), (61, 62), (62, 63), (63, 64), (64, 65), (65, 66), (66, 67), (67, 60),
)

# ---- COCO-WholeBody 133 (MMPose coco_wholebody.py): body 0-16, feet 17-22, face 23-90, left hand 91-111,
#      right hand 112-132.  Face names are face_{i} of face68, hand names are left_hand_/right_hand_ + HAND21_NAMES.

WHOLEBODY_FEET_NAMES = (
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)

WHOLEBODY133_LINKS = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9), (8, 10),
    (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6), (15, 17), (15, 18), (15, 19), (16, 20), (16, 21), (16, 22),
    (91, 92), (92, 93), (93, 94), (94, 95), (91, 96), (96, 97), (97, 98), (98, 99), (91, 100), (100, 101), (101, 102),
    (102, 103), (91, 104), (104, 105), (105, 106), (106, 107), (91, 108), (108, 109), (109, 110), (110, 111),
    (112, 113), (113, 114), (114, 115), (115, 116), (112, 117), (117, 118), (118, 119), (119, 120), (112, 121),
    (121, 122), (122, 123), (123, 124), (112, 125), (125, 126), (126, 127), (127, 128), (112, 129), (129, 130),
    (130, 131), (131, 132),
)

# Parts as MMPose's COCO-WholeBody evaluation splits them (body, foot, face, lefthand, righthand).
WHOLEBODY133_PARTS = (
    ("body", tuple(range(17))), ("foot", tuple(range(17, 23))), ("face", tuple(range(23, 91))),
    ("left_hand", tuple(range(91, 112))), ("right_hand", tuple(range(112, 133))),
)

WHOLEBODY133_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089,
    0.089, 0.068, 0.066, 0.066, 0.092, 0.094, 0.094, 0.042, 0.043, 0.044, 0.043, 0.04, 0.035, 0.031, 0.025, 0.02,
    0.023, 0.029, 0.032, 0.037, 0.038, 0.043, 0.041, 0.045, 0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011, 0.011,
    0.013, 0.015, 0.009, 0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.01, 0.017, 0.011, 0.009, 0.011, 0.009,
    0.007, 0.013, 0.008, 0.011, 0.012, 0.01, 0.034, 0.008, 0.008, 0.009, 0.008, 0.008, 0.007, 0.01, 0.008, 0.009,
    0.009, 0.009, 0.007, 0.007, 0.008, 0.011, 0.008, 0.008, 0.008, 0.01, 0.008, 0.029, 0.022, 0.035, 0.037, 0.047,
    0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022, 0.026, 0.017, 0.021, 0.021, 0.032, 0.02, 0.019, 0.022, 0.031,
    0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024, 0.022, 0.026, 0.017, 0.021, 0.021,
    0.032, 0.02, 0.019, 0.022, 0.031,
)

# ---- BlazePose 33 (MediaPipe PoseLandmark order, names lower-cased; POSE_CONNECTIONS sorted) ----

BLAZEPOSE33_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb",
    "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
    "right_heel", "left_foot_index", "right_foot_index",
)

BLAZEPOSE33_LINKS = (
    (0, 1), (0, 4), (1, 2), (2, 3), (3, 7), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (11, 23), (12, 14),
    (12, 24), (13, 15), (14, 16), (15, 17), (15, 19), (15, 21), (16, 18), (16, 20), (16, 22), (17, 19), (18, 20),
    (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (27, 31), (28, 30), (28, 32), (29, 31), (30, 32),
)

# ---- MediaPipe face mesh 468: FACEMESH_CONTOURS groups (left/right = the subject's) ----

FACEMESH_LIPS = (
    (61, 146), (146, 91), (91, 181), (181, 84), (84, 17), (17, 314), (314, 405), (405, 321), (321, 375), (375, 291),
    (61, 185), (185, 40), (40, 39), (39, 37), (37, 0), (0, 267), (267, 269), (269, 270), (270, 409), (409, 291),
    (78, 95), (95, 88), (88, 178), (178, 87), (87, 14), (14, 317), (317, 402), (402, 318), (318, 324), (324, 308),
    (78, 191), (191, 80), (80, 81), (81, 82), (82, 13), (13, 312), (312, 311), (311, 310), (310, 415), (415, 308),
)

FACEMESH_LEFT_EYE = (
    (263, 249), (249, 390), (390, 373), (373, 374), (374, 380), (380, 381), (381, 382), (382, 362), (263, 466),
    (466, 388), (388, 387), (387, 386), (386, 385), (385, 384), (384, 398), (398, 362),
)

FACEMESH_LEFT_EYEBROW = (
    (276, 283), (283, 282), (282, 295), (295, 285), (300, 293), (293, 334), (334, 296), (296, 336),
)

FACEMESH_RIGHT_EYE = (
    (33, 7), (7, 163), (163, 144), (144, 145), (145, 153), (153, 154), (154, 155), (155, 133), (33, 246), (246, 161),
    (161, 160), (160, 159), (159, 158), (158, 157), (157, 173), (173, 133),
)

FACEMESH_RIGHT_EYEBROW = (
    (46, 53), (53, 52), (52, 65), (65, 55), (70, 63), (63, 105), (105, 66), (66, 107),
)

FACEMESH_FACE_OVAL = (
    (10, 338), (338, 297), (297, 332), (332, 284), (284, 251), (251, 389), (389, 356), (356, 454), (454, 323),
    (323, 361), (361, 288), (288, 397), (397, 365), (365, 379), (379, 378), (378, 400), (400, 377), (377, 152),
    (152, 148), (148, 176), (176, 149), (149, 150), (150, 136), (136, 172), (172, 58), (58, 132), (132, 93), (93, 234),
    (234, 127), (127, 162), (162, 21), (21, 54), (54, 103), (103, 67), (67, 109), (109, 10),
)
