"""Thread pools sized once per process (``posekit.runtime.threads``; the CLI's ``--threads``)."""

from __future__ import annotations

import cv2
import pytest
import torch

from posekit.runtime.threads import busy_cores, configure_threads, configured_threads, default_threads, usable_cores


@pytest.mark.parametrize("cores, busy, expected", [
    (2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 1.9, 1), (2, 7.0, 1), (16, 3.2, 13), (16, 0.0, 16), (1, 0.0, 1),
])
def test_default_threads_leaves_the_busy_cores_to_the_other_work(cores, busy, expected):
    assert default_threads(cores=cores, busy=busy) == expected


def test_busy_cores_sees_a_busy_process_now():
    """A process spinning on one core while the sample is taken counts as (about) one busy core."""
    import multiprocessing as mp
    import time

    if busy_cores() is None:
        pytest.skip("this OS has no /proc/stat")
    spinner = mp.get_context("spawn").Process(target=_spin, args=(time.time() + 3.0,), daemon=True)
    spinner.start()
    try:
        time.sleep(1.0)  # the child has started spinning
        busy = busy_cores(0.3)
    finally:
        spinner.terminate()
    assert 0.7 <= busy <= usable_cores() + 0.05
    assert default_threads(busy=busy) <= max(1, usable_cores() - 1)


def _spin(stop: float) -> None:
    import time

    while time.time() < stop:
        pass


def test_default_threads_reads_this_machine():
    assert 1 <= default_threads() <= usable_cores()


def test_configure_threads_sizes_torch_and_opencv_and_is_remembered():
    before = torch.get_num_threads(), cv2.getNumThreads(), configured_threads()
    try:
        assert configure_threads(1) == 1
        assert torch.get_num_threads() == 1 and cv2.getNumThreads() == 1 and configured_threads() == 1
        with pytest.raises(ValueError, match="threads must be >= 1"):
            configure_threads(0)
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])
        import posekit.runtime.threads as threads

        threads._configured = before[2]
