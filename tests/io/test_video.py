"""posekit.io.video: real clips from ../shared/data/videos, truncated/garbage files, writer round trip."""

from __future__ import annotations

import pickle

import cv2
import numpy as np
import pytest

from posekit.io import VideoReader, VideoReadError, VideoWriter
from posekit.io.video import _shortfall_is_truncation, read_video_frames
from tests.conftest import shared_path

# name -> (fps, frame count, (width, height)) as OpenCV reports them for the clips in ../shared/data/videos
CLIPS = {
    "mmpose_demo.mp4": (5.0, 5, (960, 540)),
    "posetrack18_000001_mpiinew_test.mp4": (30.0, 5, (1280, 720)),
    "squat_1.mp4": (30.0, 65, (720, 1280)),
    "sam2_juggle.mp4": (24.0, 247, (1280, 720)),
    "openpose_example_video.avi": (50.0, 205, (1280, 720)),
}


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_real_clip_properties_and_first_frames(name):
    path = shared_path("data", "videos", name)
    fps, count, size = CLIPS[name]
    with VideoReader(path, end=30) as video:
        assert video.fps == pytest.approx(fps)
        assert video.frame_count == count
        assert video.size == size
        frames = list(video)
    assert [index for index, _ in frames] == list(range(min(30, count)))
    capture = cv2.VideoCapture(str(path))
    for index, frame in frames:
        assert frame.shape == (size[1], size[0], 3) and frame.dtype == np.uint8 and frame.flags.c_contiguous
        ok, bgr = capture.read()
        assert ok
        np.testing.assert_array_equal(frame, bgr[..., ::-1], err_msg=f"{name} frame {index}")
    capture.release()


def test_whole_short_clips_end_normally():
    for name in ("mmpose_demo.mp4", "posetrack18_000001_mpiinew_test.mp4"):
        with VideoReader(shared_path("data", "videos", name)) as video:
            assert len(list(video)) == 5


def test_start_end_every_select_exact_indices():
    path = shared_path("data", "videos", "squat_1.mp4")
    with VideoReader(path, start=3, end=20, every=4) as video:
        selected = list(video)
    assert [index for index, _ in selected] == [3, 7, 11, 15, 19]
    with VideoReader(path, end=20) as video:
        everything = dict(video)
    for index, frame in selected:
        np.testing.assert_array_equal(frame, everything[index])


def test_iterating_again_restarts_the_file():
    path = shared_path("data", "videos", "mmpose_demo.mp4")
    with VideoReader(path, start=1, end=4) as video:
        first = list(video)
        second = list(video)
    assert [i for i, _ in first] == [i for i, _ in second] == [1, 2, 3]
    for (_, a), (_, b) in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_read_video_frames_and_closed_reader():
    path = shared_path("data", "videos", "mmpose_demo.mp4")
    frames = read_video_frames(path, every=2)
    assert len(frames) == 3 and frames[0].shape == (540, 960, 3)
    video = VideoReader(path)
    video.close()
    video.close()
    with pytest.raises(ValueError, match="closed"):
        iter(video)


def test_truncated_clip_raises_after_good_frames(tmp_path):
    data = shared_path("data", "videos", "squat_1.mp4").read_bytes()  # 'moov' index at the front: opens when cut
    cut = tmp_path / "squat_cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    yielded = []
    with VideoReader(cut) as video:
        assert video.frame_count == 65  # the header still promises every frame
        with pytest.raises(VideoReadError, match=r"squat_cut\.mp4.*last good frame index") as info:
            for index, _ in video:
                yielded.append(index)
    error = info.value
    assert isinstance(error, ValueError)
    assert 0 < error.frames_read < 65 and error.expected == 65
    assert yielded == list(range(error.frames_read))
    assert f"last good frame index {error.frames_read - 1}" in str(error)
    again = pickle.loads(pickle.dumps(error))
    assert (again.frames_read, str(again)) == (error.frames_read, str(error))
    with VideoReader(cut, end=10) as video:  # stopping before the damage is fine
        assert len(list(video)) == 10


def test_truncated_clip_with_index_at_the_end_cannot_be_opened(tmp_path):
    data = shared_path("data", "videos", "mmpose_demo.mp4").read_bytes()  # 'moov' at the end: lost when cut
    cut = tmp_path / "demo_cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="demo_cut.mp4"):
        VideoReader(cut)


def test_zero_byte_text_and_missing_files(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.mp4"):
        VideoReader(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("this is a text file, not a video\n" * 50)
    with pytest.raises(ValueError, match="notes.mp4"):
        VideoReader(text)
    with pytest.raises(FileNotFoundError, match="absent.mp4"):
        VideoReader(tmp_path / "absent.mp4")
    with pytest.raises(ValueError, match="every"):
        VideoReader(text, every=0)
    with pytest.raises(ValueError, match="end"):
        VideoReader(text, start=5, end=2)


def test_truncation_tolerance():
    assert not _shortfall_is_truncation(65, 65)
    assert not _shortfall_is_truncation(64, 65)  # one frame short: header rounding
    assert _shortfall_is_truncation(63, 65)
    assert not _shortfall_is_truncation(995, 1000)  # within 1 %
    assert _shortfall_is_truncation(989, 1000)
    assert not _shortfall_is_truncation(3, None)  # unknown count


def _synthetic_frames(count: int, height: int = 48, width: int = 64) -> list[np.ndarray]:
    """Smooth frames (codec friendly): a bright square moving right on a colour gradient."""
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for i in range(count):
        frame = np.stack([x * 3, y * 4, np.full_like(x, 40 + 15 * i)], axis=-1).astype(np.uint8)
        frame[16:32, 4 * i : 4 * i + 16] = (250, 250, 250)
        frames.append(frame)
    return frames


@pytest.mark.parametrize(("suffix", "codec"), [(".mp4", "mp4v"), (".avi", "MJPG")])
def test_writer_round_trip(tmp_path, suffix, codec):
    frames = _synthetic_frames(10)
    copies = [f.copy() for f in frames]
    path = tmp_path / "out" / f"clip{suffix}"
    with VideoWriter(path, fps=12.5, codec=codec) as writer:
        for frame in frames:
            writer.write(frame)
        assert not path.exists()  # still in the temporary file
    assert writer.frames_written == 10 and writer.size == (64, 48)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # temp file renamed away
    for a, b in zip(frames, copies):
        np.testing.assert_array_equal(a, b)
    with VideoReader(path) as video:
        assert video.fps == pytest.approx(12.5)
        assert video.size == (64, 48)
        back = list(video)
    assert len(back) == 10
    for (index, frame), original in zip(back, frames):
        error = np.abs(frame.astype(int) - original.astype(int))
        assert error.mean() < 6, (index, error.mean())
        # the square really is where it was written (channel order and motion preserved)
        assert frame[20:28, 4 * index + 4 : 4 * index + 12].mean() > 200
        assert frame[2:10, 2:10, 2].mean() == pytest.approx(original[2:10, 2:10, 2].mean(), abs=8)


def test_writer_checks_frames(tmp_path):
    path = tmp_path / "bad.mp4"
    with VideoWriter(path, fps=10) as writer:
        writer.write(np.zeros((48, 64, 3), np.uint8))
        with pytest.raises(ValueError, match=r"frame 1 has shape \(48, 60, 3\), expected \(48, 64, 3\)"):
            writer.write(np.zeros((48, 60, 3), np.uint8))
        with pytest.raises(ValueError, match="frame 1 must have dtype uint8, got float32"):
            writer.write(np.zeros((48, 64, 3), np.float32))
        with pytest.raises(ValueError, match=r"frame 1 must have shape \(H, W, 3\)"):
            writer.write(np.zeros((48, 64), np.uint8))
    with VideoReader(path) as video:
        assert len(list(video)) == 1
    with pytest.raises(ValueError, match="size"):
        VideoWriter(path, fps=10, size=(64, 48)).write(np.zeros((64, 48, 3), np.uint8))
    with pytest.raises(ValueError, match="fps"):
        VideoWriter(path, fps=0)
    with pytest.raises(ValueError, match="codec"):
        VideoWriter(path, fps=10, codec="h264x")
    with pytest.raises(ValueError, match="is closed"):
        writer.write(np.zeros((48, 64, 3), np.uint8))


def test_writer_keeps_frames_when_body_raises_and_writes_nothing_without_frames(tmp_path):
    path = tmp_path / "partial.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(path, fps=10) as writer:
            for frame in _synthetic_frames(4):
                writer.write(frame)
            raise RuntimeError("boom")
    with VideoReader(path) as video:
        assert len(list(video)) == 4
    nothing = tmp_path / "nothing.mp4"
    with VideoWriter(nothing, fps=10, size=(64, 48)) as writer:
        pass
    assert writer.close() is None and not nothing.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["partial.mp4"]
