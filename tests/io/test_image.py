"""posekit.io.image: real COCO JPEGs, the MMPose e2e image against its OpenCV decode, EXIF, 16-bit, bad inputs."""

from __future__ import annotations

import io
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from posekit.io import load_image, save_image
from tests.conftest import shared_path


def _gradient(height: int = 24, width: int = 32) -> np.ndarray:
    """Deterministic (H, W, 3) uint8 RGB test pattern with distinct channels."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 255 // (width - 1), y * 255 // (height - 1), (x + y) % 256], axis=-1).astype(np.uint8)


# ---------------------------------------------------------------- real files


def test_e2e_jpeg_matches_opencv_decode_fixture():
    path = shared_path("fixtures", "mmpose", "e2e", "000000197388.jpg")
    bgr = np.load(shared_path("fixtures", "mmpose", "e2e", "000000197388_bgr.npy"))
    image = load_image(path)
    assert image.shape == (392, 640, 3) and image.dtype == np.uint8 and image.flags.c_contiguous
    diff = np.abs(image.astype(np.int16) - bgr[..., ::-1].astype(np.int16))
    # Pillow and OpenCV both decode with libjpeg-turbo here: identical (measured max 0). Allow a few levels
    # for builds whose IDCT differs.
    assert diff.max() <= 4 and diff.mean() < 0.5, (diff.max(), diff.mean())
    np.testing.assert_array_equal(load_image(str(path)), image)


def test_coco_train_images_match_opencv():
    folder = shared_path("data", "coco", "train2017_subset")
    files = sorted(folder.glob("*.jpg"))[:8]
    assert files, f"no jpg in {folder}"
    for file in files:
        image = load_image(file)
        reference = cv2.imread(str(file), cv2.IMREAD_COLOR)[..., ::-1]
        assert image.shape == reference.shape, file
        diff = np.abs(image.astype(np.int16) - reference.astype(np.int16))
        assert diff.max() <= 4, (file.name, diff.max())


def test_pil_and_array_inputs_agree_with_path():
    path = shared_path("fixtures", "mmpose", "e2e", "000000197388.jpg")
    image = load_image(path)
    with Image.open(path) as pil:
        np.testing.assert_array_equal(load_image(pil), image)
    np.testing.assert_array_equal(load_image(image), image)


# ---------------------------------------------------------------- EXIF orientation


def test_exif_orientation_6_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)  # stored landscape: 20 high, 40 wide
    pixels[:, :10] = (255, 0, 0)  # red band on the stored left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    Image.fromarray(pixels).save(path, exif=exif.tobytes(), quality=95)
    image = load_image(path)
    assert image.shape == (40, 20, 3)  # displayed portrait
    # clockwise rotation moves the stored left edge to the top
    assert image[:8, :, 0].mean() > 200 and image[:8, :, 1:].mean() < 40
    assert image[-8:, :, 0].mean() < 40
    # a PIL image is taken as the pixels it holds (no EXIF transpose)
    with Image.open(path) as pil:
        assert load_image(pil).shape == (20, 40, 3)


# ---------------------------------------------------------------- PNG modes and 16 bit


def test_grayscale_png(tmp_path):
    gray = _gradient()[..., 0]
    Image.fromarray(gray).save(tmp_path / "gray.png")
    image = load_image(tmp_path / "gray.png")
    np.testing.assert_array_equal(image, np.repeat(gray[..., None], 3, axis=2))


def test_rgba_png_drops_alpha_without_compositing(tmp_path):
    rgba = np.dstack([_gradient(), np.zeros(_gradient().shape[:2], np.uint8)])  # fully transparent
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(load_image(tmp_path / "rgba.png"), rgba[..., :3])


def test_16bit_gray_png_and_tiff_scaled_by_high_byte(tmp_path):
    gray16 = (np.arange(24 * 32, dtype=np.uint32).reshape(24, 32) * 85).astype(np.uint16)
    for name in ("gray16.png", "gray16.tif"):
        assert cv2.imwrite(str(tmp_path / name), gray16)
        with Image.open(tmp_path / name) as pil:
            assert pil.mode.startswith("I;16")  # the case being tested
        image = load_image(tmp_path / name)
        np.testing.assert_array_equal(image, np.repeat((gray16 >> 8).astype(np.uint8)[..., None], 3, axis=2))


def test_16bit_rgb_png_and_tiff(tmp_path):
    rgb16 = _gradient().astype(np.uint16) * 257 + 7
    for name in ("rgb16.png", "rgb16.tif"):
        assert cv2.imwrite(str(tmp_path / name), rgb16[..., ::-1])  # OpenCV writes BGR
        np.testing.assert_array_equal(load_image(tmp_path / name), (rgb16 >> 8).astype(np.uint8))


def test_opencv_fallback_for_format_pillow_cannot_identify(tmp_path):
    rgb = _gradient()
    ok, encoded = cv2.imencode(".pfm", rgb[..., ::-1].astype(np.float32) / 255.0)
    assert ok
    path = tmp_path / "image.pfm"
    path.write_bytes(encoded.tobytes())
    with pytest.raises(Exception):
        Image.open(path)  # the premise: Pillow cannot read PFM
    np.testing.assert_array_equal(load_image(path), rgb)


@pytest.mark.parametrize("mode", ["1", "L", "P", "LA", "PA", "RGBA", "CMYK", "YCbCr", "I;16", "I", "F"])
def test_pil_modes(mode):
    rgb = _gradient()
    base = Image.fromarray(rgb)
    if mode == "I;16":
        pil = Image.fromarray(rgb[..., 1].astype(np.uint16) * 256)
        expected = np.repeat(rgb[..., 1:2], 3, axis=2)
    elif mode == "I":
        pil = Image.fromarray(rgb[..., 1].astype(np.int32) * 256)
        expected = np.repeat(rgb[..., 1:2], 3, axis=2)
        assert pil.mode == "I"
    elif mode == "F":
        pil = Image.fromarray(rgb[..., 1].astype(np.float32) / 255.0)
        expected = np.repeat(rgb[..., 1:2], 3, axis=2)
    else:
        pil = base.convert(mode)
        expected = np.asarray(pil.convert("RGBA" if mode in ("P", "PA") else "RGB").convert("RGB"))
    image = load_image(pil)
    assert image.shape == (24, 32, 3) and image.dtype == np.uint8 and image.flags.c_contiguous
    np.testing.assert_array_equal(image, expected)
    if mode in ("RGBA", "YCbCr"):
        assert np.abs(image.astype(int) - rgb).max() <= {"RGBA": 0, "YCbCr": 3}[mode]


def test_palette_image_with_transparency_keeps_palette_colours():
    rng = np.random.default_rng(3)
    palette = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    indices = rng.integers(0, 256, (24, 32), dtype=np.uint8)
    pil = Image.frombytes("P", (32, 24), indices.tobytes())
    pil.putpalette(palette.reshape(-1).tolist())
    pil.info["transparency"] = int(indices[0, 0])  # one palette entry transparent: its colour is kept
    np.testing.assert_array_equal(load_image(pil), palette[indices])


def test_pil_unsupported_mode():
    with pytest.raises(ValueError, match="unsupported PIL mode 'LAB'"):
        load_image(Image.new("LAB", (4, 3)))


# ---------------------------------------------------------------- arrays


def test_array_dtypes_and_shapes():
    rgb = _gradient()
    gray = rgb[..., 0]
    np.testing.assert_array_equal(load_image(gray), np.repeat(gray[..., None], 3, axis=2))
    np.testing.assert_array_equal(load_image(gray[..., None]), np.repeat(gray[..., None], 3, axis=2))
    np.testing.assert_array_equal(load_image(np.dstack([rgb, np.full(gray.shape, 9, np.uint8)])), rgb)
    np.testing.assert_array_equal(load_image(rgb.astype(np.uint16) * 256 + 255), rgb)
    np.testing.assert_array_equal(load_image((rgb.astype(np.uint16) * 256).astype(">u2")), rgb)
    np.testing.assert_array_equal(load_image(rgb / 255.0), rgb)
    np.testing.assert_array_equal(load_image((rgb / 255.0).astype(np.float32)), rgb)
    np.testing.assert_array_equal(load_image(np.array([[True, False]])), [[[255] * 3, [0] * 3]])
    assert load_image(np.array([[0.5 / 255, 1.5 / 255]]))[0, :, 0].tolist() == [0, 2]  # round half to even


def test_array_result_is_new_contiguous_and_input_untouched():
    rgb = _gradient()
    before = rgb.copy()
    image = load_image(rgb)
    assert not np.shares_memory(image, rgb)
    image[:] = 0
    np.testing.assert_array_equal(rgb, before)
    view = rgb[::2, ::-1]  # non-contiguous view
    out = load_image(view)
    assert out.flags.c_contiguous and not np.shares_memory(out, rgb)
    np.testing.assert_array_equal(out, view)
    float_image = rgb / 255.0
    float_before = float_image.copy()
    load_image(float_image)
    np.testing.assert_array_equal(float_image, float_before)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((4, 4, 3), np.int32), "unsupported dtype int32"),
        (np.zeros((4, 4, 3), np.int8), "unsupported dtype int8"),
        (np.zeros((4, 4, 3), np.complex64), "unsupported dtype complex64"),
        (np.zeros((4, 4, 2), np.uint8), r"got \(4, 4, 2\)"),
        (np.zeros((2, 4, 4, 3), np.uint8), r"got \(2, 4, 4, 3\)"),
        (np.zeros((4,), np.uint8), r"got \(4,\)"),
        (np.zeros((0, 4, 3), np.uint8), "must not be empty"),
        (np.full((4, 4, 3), 255.0), r"values in \[0, 1\], got \[255, 255\]"),
        (np.full((4, 4, 3), -0.1), r"values in \[0, 1\]"),
        (np.full((4, 4, 3), np.nan), "NaN"),
    ],
)
def test_bad_arrays(array, message):
    with pytest.raises(ValueError, match=message):
        load_image(array)


def test_bad_type():
    with pytest.raises(TypeError, match="list"):
        load_image([[0, 1], [2, 3]])


# ---------------------------------------------------------------- broken files


def test_missing_file_names_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        load_image(tmp_path / "nope.jpg")


@pytest.mark.parametrize("kind", ["empty", "random", "truncated", "text"])
def test_broken_files_raise_value_error_naming_file(tmp_path, kind):
    source = shared_path("fixtures", "mmpose", "e2e", "000000197388.jpg").read_bytes()
    data = {
        "empty": b"",
        "random": np.random.default_rng(0).bytes(4096),
        "truncated": source[: len(source) // 2],
        "text": b"this is not an image\n" * 20,
    }[kind]
    path = tmp_path / f"broken_{kind}.jpg"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=f"broken_{kind}.jpg"):
        load_image(path)


def test_truncated_png(tmp_path):
    Image.fromarray(_gradient(64, 64)).save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.png"):
        load_image(tmp_path / "cut.png")


# ---------------------------------------------------------------- save_image


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".jpg"])
def test_save_image_round_trip(tmp_path, suffix):
    rgb = _gradient()
    before = rgb.copy()
    path = tmp_path / "sub" / "dir" / f"out{suffix}"
    assert save_image(path, rgb) == path
    np.testing.assert_array_equal(rgb, before)
    back = load_image(path)
    tolerance = 12 if suffix == ".jpg" else 0
    assert np.abs(back.astype(int) - rgb).max() <= tolerance
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file left
    reference = tmp_path / "reference_permissions"
    reference.write_bytes(b"")  # a plainly created file: 0o666 minus the umask
    assert os.stat(path).st_mode & 0o777 == os.stat(reference).st_mode & 0o777


def test_save_image_replaces_and_cleans_up_on_error(tmp_path):
    path = tmp_path / "a.png"
    save_image(path, _gradient())
    save_image(path, np.zeros((5, 6, 3), np.uint8))
    assert load_image(path).shape == (5, 6, 3)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        save_image(path, np.zeros((5, 6), np.uint8))
    with pytest.raises(ValueError, match="suffix"):
        save_image(tmp_path / "a.unknownext", _gradient())
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]
    assert load_image(path).shape == (5, 6, 3)


def test_save_image_jpeg_quality(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    save_image(tmp_path / "lo.jpg", rgb, quality=10)
    save_image(tmp_path / "hi.jpg", rgb, quality=95)
    assert (tmp_path / "lo.jpg").stat().st_size < (tmp_path / "hi.jpg").stat().st_size
    with pytest.raises(ValueError, match="quality"):
        save_image(tmp_path / "x.jpg", rgb, quality=0)
    with Image.open(io.BytesIO((tmp_path / "hi.jpg").read_bytes())) as pil:
        assert pil.format == "JPEG"
