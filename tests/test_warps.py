"""posekit.warps: the fast evaluation of OpenCV 5.0's warpAffine equals a plain transcription of its arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import posekit.warps
from posekit.warps import warp_affine_exact


def _fma(a, b, c):
    """float32 fused multiply-add through float64 (exact product and sum for these operands, one rounding)."""
    f64 = np.float64
    return (np.asarray(a, f64) * np.asarray(b, f64) + np.asarray(c, f64)).astype(np.float32)


def _reference(image: np.ndarray, m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """OpenCV 5.0 ``warpAffine(INTER_LINEAR, BORDER_CONSTANT 0)`` on uint8, pixel by pixel as its kernels do it:
    float64 closed-form inverse cast to float32; per row ``y * M1 + M2`` in float32 (two roundings); per pixel
    ``sx = fma(M0, x, row)``; neighbours outside the image read 0; ``v0 = fma(a, p01 - p00, p00)``,
    ``v1 = fma(a, p11 - p10, p10)``, ``v = fma(b, v1 - v0, v0)`` in float32; round half to even."""
    det = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
    d = 1.0 / det
    a11, a22, a12, a21 = m[1, 1] * d, m[0, 0] * d, -m[0, 1] * d, -m[1, 0] * d
    inv = np.array([[a11, a12, -a11 * m[0, 2] - a12 * m[1, 2]], [a21, a22, -a21 * m[0, 2] - a22 * m[1, 2]]],
                   np.float32)
    w, h = size
    ih, iw, c = image.shape
    out = np.zeros((h, w, c), np.uint8)
    f32 = np.float32
    for y in range(h):
        row_x = f32(f32(f32(y) * inv[0, 1]) + inv[0, 2])
        row_y = f32(f32(f32(y) * inv[1, 1]) + inv[1, 2])
        for x in range(w):
            sx, sy = _fma(inv[0, 0], f32(x), row_x), _fma(inv[1, 0], f32(x), row_y)
            ix, iy = int(np.floor(sx)), int(np.floor(sy))
            a, b = f32(sx - f32(ix)), f32(sy - f32(iy))

            def px(yy: int, xx: int) -> np.ndarray:
                inside = 0 <= yy < ih and 0 <= xx < iw
                return image[yy, xx].astype(np.float32) if inside else np.zeros(c, np.float32)

            p00, p01, p10, p11 = px(iy, ix), px(iy, ix + 1), px(iy + 1, ix), px(iy + 1, ix + 1)
            v0, v1 = _fma(a, p01 - p00, p00), _fma(a, p11 - p10, p10)
            out[y, x] = np.rint(_fma(b, f32(v1 - v0), v0)).astype(np.uint8)
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 31 - 1), angle=st.floats(-180, 180), scale=st.floats(0.2, 4.0),
       tx=st.floats(-40, 40), ty=st.floats(-40, 40), channels=st.sampled_from([1, 3, 4]),
       redo_all=st.booleans(), numpy_path=st.booleans())
def test_fast_path_equals_the_transcription(seed, angle, scale, tx, ty, channels, redo_all, numpy_path) -> None:
    # numpy_path: the NumPy evaluation even where the installed OpenCV's remap passed the probe (remap_is_exact);
    # redo_all: every value counts as near a rounding tie, so the exact FMA path computes all of them.
    margin = 0.5 if redo_all else posekit.warps._TIE_MARGIN
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (23, 31, channels), dtype=np.uint8)
    # A smooth image too: more values land near the .5 ties that the fast path redoes exactly.
    image[:, :15] = np.linspace(0, 255, 15 * 23 * channels).reshape(23, 15, channels).astype(np.uint8)
    rad = np.deg2rad(angle)
    m = np.array([[scale * np.cos(rad), -scale * np.sin(rad), tx], [scale * np.sin(rad), scale * np.cos(rad), ty]])
    old, posekit.warps._TIE_MARGIN = posekit.warps._TIE_MARGIN, margin
    probe = posekit.warps.remap_is_exact
    if numpy_path:
        posekit.warps.remap_is_exact = lambda channels: False
    try:
        got = warp_affine_exact(image, m[None], (17, 13))[0]
    finally:
        posekit.warps._TIE_MARGIN = old
        posekit.warps.remap_is_exact = probe
    np.testing.assert_array_equal(got, _reference(image, m, (17, 13)))


def test_batch_equals_single_crops_and_input_is_kept() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    before = image.copy()
    mats = np.array([[[1.3, 0.2, -5.0], [-0.2, 1.3, 3.0]], [[0.7, 0.0, 2.5], [0.0, 0.7, -1.25]]])
    both = warp_affine_exact(image, mats, (20, 16))
    for i in range(2):
        np.testing.assert_array_equal(both[i], warp_affine_exact(image, mats[i:i + 1], (20, 16))[0])
    np.testing.assert_array_equal(image, before)
    assert warp_affine_exact(image, np.zeros((0, 2, 3)), (20, 16)).shape == (0, 16, 20, 3)


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match=r"matrices must have shape \(N, 2, 3\)"):
        warp_affine_exact(np.zeros((4, 4, 3), np.uint8), np.zeros((2, 3)), (4, 4))
    with pytest.raises(ValueError, match="finite"):
        warp_affine_exact(np.zeros((4, 4, 3), np.uint8), np.full((1, 2, 3), np.nan), (4, 4))
    with pytest.raises(ValueError, match="uint8"):
        warp_affine_exact(np.zeros((4, 4, 3), np.float32), np.eye(2, 3)[None], (4, 4))


def test_remap_probe_tells_the_fma_kernel_from_a_plain_one(monkeypatch) -> None:
    # The probe's tie cases round differently with a plain float32 multiply-add: a remap without FMAs fails it.
    rng = np.random.default_rng(0)
    for image, sx, sy in posekit.warps._fma_probes(rng):
        assert len(sx) > 100
        exact = posekit.warps._bilinear(image, sx, sy)
        axis = 1 if image.shape[0] > 2 else 0  # x probe: pairs along columns; y probe: along rows
        p0 = (image[0::2, 0] if axis else image[0, 0::2]).astype(np.float32)
        p1 = (image[0::2, 1] if axis else image[1, 0::2]).astype(np.float32)
        weight = (sx if axis else sy)[:, :1]
        plain = np.rint(weight * (p1 - p0) + p0)
        assert np.all(plain != exact.reshape(plain.shape))
    monkeypatch.setenv("POSEKIT_EXACT_WARP", "numpy")
    posekit.warps.remap_is_exact.cache_clear()
    try:
        assert posekit.warps.remap_is_exact() is False
    finally:
        monkeypatch.delenv("POSEKIT_EXACT_WARP")
        posekit.warps.remap_is_exact.cache_clear()
