"""CMU motion capture for lifter training: every clip as h36m17 joints (converted once, cached) and the
held-out split (whole clips and a whole subject, never frames). Used by :mod:`posekit.lift.train`."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from posekit.io.atomic import atomic_destination
from posekit.models.weights import cache_dir
from posekit.threed.cmu_h36m import PLACEMENT_VERSION, load_amc_h36m17, load_bvh_h36m17
from posekit.threed.mocap_archive import extract_members
from posekit.threed.pairs import split_by_subject

__all__ = ["DEFAULT_TEST_CLIPS", "DEFAULT_TEST_SUBJECTS", "TEST_MOTIONS", "motion_of", "load_cmu_clips",
           "split_clips"]

DEFAULT_TEST_CLIPS: tuple[str, ...] = ("01_08", "02_04", "02_05", "03_02")
"""Held-out ASF/AMC clips: climb/sit/lower to ground, jump/balance, punch/strike, walk on uneven terrain."""
DEFAULT_TEST_SUBJECTS: tuple[str, ...] = ("16",)
"""Held-out subjects: every BVH walk cycle of subject 16 (an unseen person)."""
TEST_MOTIONS: dict[str, str] = {"01_08": "climb_sit_lower", "02_04": "jump_balance", "02_05": "punch_strike",
                                "03_02": "walk_uneven", "16": "walk_unseen_subject"}
"""Motion label of each held-out clip (or subject) for the per-motion proxy figures."""


def motion_of(clip: str) -> str:
    """The :data:`TEST_MOTIONS` label of a clip id (by clip, then by subject), else the clip id itself."""
    return TEST_MOTIONS.get(clip) or TEST_MOTIONS.get(clip.split("_")[0]) or clip


_SHARED_MOCAP = Path(__file__).resolve().parents[3] / "shared" / "data" / "mocap" / "cmu"
_CACHE_NAME = f"cmu_h36m17_120fps_v{PLACEMENT_VERSION}.npz"  # re-converted when the joint placement changes


def load_cmu_clips(*, mocap_dir: str | os.PathLike[str] | None = None,
                   cache: str | os.PathLike[str] | None = None) -> dict[str, np.ndarray]:
    """Every CMU clip as ``{clip_id: (T, 17, 3) float32}`` h36m17 joints in world mm (Y up), 120 fps.

    ``mocap_dir`` holds ``cmu_asf_amc.tar.xz`` and ``cmu_bvh_walkcycles.tar.xz`` (default ``../shared/data/mocap/
    cmu``); archives are unpacked into a temporary folder. ``cache`` (default ``$POSEKIT_HOME/mocap/`` + a fixed
    name) stores the converted arrays (written atomically) and is read on later calls.
    """
    cache = Path(cache) if cache is not None else cache_dir() / "mocap" / _CACHE_NAME
    if cache.is_file():
        with np.load(cache) as data:
            return {k: data[k] for k in sorted(data.files)}
    src = Path(mocap_dir) if mocap_dir is not None else _SHARED_MOCAP
    clips: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="posekit-mocap-") as tmp:
        amc = extract_members(src / "cmu_asf_amc.tar.xz", ["asf_amc/subjects/*.amc", "asf_amc/subjects/*.asf"], tmp)
        for f in sorted(p for p in amc if p.suffix == ".amc"):
            clips[f.stem] = load_amc_h36m17(f.parent / f"{f.parent.name}.asf", f).astype(np.float32)
        for f in sorted(extract_members(src / "cmu_bvh_walkcycles.tar.xz", ["bvh_walkcycles/*.bvh"], tmp)):
            if f.stem not in clips:  # 02_01 / 02_02 exist as AMC too: one source per trial
                clips[f.stem] = load_bvh_h36m17(f).astype(np.float32)
    with atomic_destination(cache) as part:  # same ".npz" suffix, so np.savez keeps the name
        np.savez(part, **clips)
    return clips


def split_clips(clip_ids: Sequence[str], *, test_clips: Sequence[str] = DEFAULT_TEST_CLIPS,
                test_subjects: Sequence[str] = DEFAULT_TEST_SUBJECTS) -> tuple[list[str], list[str]]:
    """``(train, test)`` clip ids: test = ``test_clips`` plus every clip of ``test_subjects``; no clip is in both."""
    unknown = sorted(set(test_clips) - set(clip_ids))
    if unknown:
        raise ValueError(f"test_clips {unknown} are not among the clips ({len(clip_ids)} loaded)")
    held = set(test_clips)
    if test_subjects:
        held |= set(split_by_subject(clip_ids, test_subjects=test_subjects)[1])
    return [c for c in clip_ids if c not in held], [c for c in clip_ids if c in held]
