"""Tests for posekit.generalization.corruptions: determinism, purity, severity monotonicity on a real LSP image."""
from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from posekit.generalization.corruptions import (
    CORRUPTIONS,
    Corruption,
    corrupt,
    corruption_names,
)
from tests.conftest import SHARED, shared_path

NAMES = corruption_names()
RANDOM = [n for n in NAMES if CORRUPTIONS[n].random]


def _synthetic(h: int = 128, w: int = 160) -> np.ndarray:
    """Textured RGB image: colour gradients, smooth noise at two scales and random filled circles (deterministic)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 120.0 / w, yy * 120.0 / h, 60 + 0 * xx], -1)
    img += cv2.GaussianBlur(rng.uniform(-150, 150, (h, w, 3)), (0, 0), 1.5)
    img += cv2.GaussianBlur(rng.uniform(-300, 300, (h, w, 3)), (0, 0), 6)
    for _ in range(25):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(img, centre, int(rng.integers(3, 20)), rng.uniform(0, 255, 3).tolist(), -1)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """A real LSP image resized to 160x128 if ../shared is there, else the synthetic textured image."""
    path = SHARED / "data" / "lsp" / "images" / "im0001.jpg"
    if not path.exists():
        return _synthetic()
    bgr = cv2.imread(str(shared_path("data", "lsp", "images", "im0001.jpg")))
    return cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (160, 128), interpolation=cv2.INTER_AREA)


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of the grey images (Gaussian window, sigma 1.5, the usual constants)."""
    a = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float64)
    b = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float64)

    def g(x):
        return cv2.GaussianBlur(x, (7, 7), 1.5)

    ma, mb = g(a), g(b)
    va, vb, cov = g(a * a) - ma * ma, g(b * b) - mb * mb, g(a * b) - ma * mb
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return float((((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))).mean())


def test_table_is_data():
    assert set(NAMES) >= {"gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "motion_blur",
                          "gaussian_blur", "jpeg_compression", "brightness", "contrast", "fog", "pixelate", "occluder"}
    for name, spec in CORRUPTIONS.items():
        assert isinstance(spec, Corruption) and spec.name == name and len(spec.params) == 5
    assert CORRUPTIONS["jpeg_compression"].params == (25, 18, 15, 10, 7)  # ImageNet-C values
    assert CORRUPTIONS["gaussian_noise"].params == (0.08, 0.12, 0.18, 0.26, 0.38)
    with pytest.raises(TypeError):
        CORRUPTIONS["fog"] = CORRUPTIONS["fog"]  # read-only mapping


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_purity_determinism(image, name):
    before = image.copy()
    a = corrupt(image, name, 3, seed=5)
    b = corrupt(image, name, 3, seed=5)
    assert np.array_equal(image, before), "input was modified"
    assert a.dtype == np.uint8 and a.shape == image.shape
    assert not np.shares_memory(a, image)
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, image), "severity 3 left the image unchanged"
    if name in RANDOM:
        assert not np.array_equal(a, corrupt(image, name, 3, seed=6)), "another seed gave the same output"
    else:
        assert np.array_equal(a, corrupt(image, name, 3, seed=6))


@pytest.mark.parametrize("name", NAMES)
def test_severity_monotone_ssim(image, name):
    for seed in (0, 1):
        scores = [_ssim(image, corrupt(image, name, s, seed=seed)) for s in range(1, 6)]
        assert scores[0] < 0.995, f"{name} severity 1 barely changes the image: {scores}"
        assert all(x > y for x, y in itertools.pairwise(scores)), f"{name} seed {seed}: SSIM not decreasing {scores}"


def test_brightness_and_contrast_direction(image):
    means = [corrupt(image, "brightness", s).astype(float).mean() for s in range(1, 6)]
    assert image.mean() < means[0] and all(x < y for x, y in itertools.pairwise(means))
    stds = [corrupt(image, "contrast", s).astype(float).std() for s in range(1, 6)]
    assert stds[0] < image.astype(float).std() and all(x > y for x, y in itertools.pairwise(stds))
    # contrast keeps the per-channel mean (up to rounding)
    np.testing.assert_allclose(corrupt(image, "contrast", 5).mean(axis=(0, 1)), image.mean(axis=(0, 1)), atol=1.0)


def test_jpeg_quality_decreasing(image):
    out = [corrupt(image, "jpeg_compression", s) for s in range(1, 6)]
    err = [np.abs(o.astype(float) - image).mean() for o in out]
    assert all(x < y for x, y in itertools.pairwise(err)), err
    # same as encoding at the table's quality with OpenCV directly
    _ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 7])
    assert np.array_equal(out[4], cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))


def test_pixelate_blocks_scale_with_size():
    img = _synthetic(448, 448)  # s = 2: severity 5 (c = 0.25) -> blocks of 8 px
    out = corrupt(img, "pixelate", 5)
    assert np.array_equal(out[:8, :8], np.broadcast_to(out[0, 0], (8, 8, 3)))
    assert not np.array_equal(out[:8, 8:16], np.broadcast_to(out[0, 0], (8, 8, 3)))


def _solid_image(h=120, w=200, value=(0, 0, 0)):
    return np.broadcast_to(np.array(value, np.uint8), (h, w, 3)).copy()


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_occluder_fraction_whole_image(severity):
    img = _solid_image(value=(1, 2, 3))  # occluder colours/noise almost never equal this exact triple
    out = corrupt(img, "occluder", severity, seed=severity)
    covered = (out != img).any(axis=2).mean()
    assert abs(covered - CORRUPTIONS["occluder"].params[severity - 1]) < 0.02, covered


def test_occluder_fraction_in_boxes_only():
    img = _solid_image(value=(1, 2, 3))
    boxes = np.array([[10.0, 10.0, 60.0, 90.0], [120.0, 30.5, 230.0, 100.0]])  # 2nd box clipped at x = 200
    out = corrupt(img, "occluder", 4, seed=3, boxes=boxes)
    changed = (out != img).any(axis=2)
    inside = np.zeros_like(changed)
    inside[10:90, 10:60] = True
    inside[30:100, 120:200] = True
    assert not changed[~inside].any(), "occluder painted outside the boxes"
    for y0, y1, x0, x1 in ((10, 90, 10, 60), (30, 100, 120, 200)):
        assert abs(changed[y0:y1, x0:x1].mean() - 0.4) < 0.03


def test_errors(image):
    with pytest.raises(ValueError, match="did you mean 'gaussian_noise'"):
        corrupt(image, "gausian_noise", 1)
    with pytest.raises(ValueError, match="known: .*pixelate"):
        corrupt(image, "snow", 1)
    for sev in (0, 6, 2.0, True):
        with pytest.raises(ValueError, match="severity"):
            corrupt(image, "fog", sev)
    with pytest.raises(ValueError, match="seed"):
        corrupt(image, "fog", 1, seed=-1)
    with pytest.raises(ValueError, match="uint8"):
        corrupt(image.astype(np.float32), "fog", 1)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        corrupt(image[..., 0], "fog", 1)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        corrupt(np.zeros((8, 8, 4), np.uint8), "fog", 1)
    with pytest.raises(ValueError, match="empty"):
        corrupt(np.zeros((0, 8, 3), np.uint8), "fog", 1)
    with pytest.raises(TypeError, match="numpy array"):
        corrupt([[0, 0, 0]], "fog", 1)
    with pytest.raises(ValueError, match="boxes"):
        corrupt(image, "occluder", 1, boxes=np.zeros((2, 3)))
