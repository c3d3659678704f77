"""Finding a peer's Python (option, environment variable, ~/venvs default) and the JSON protocol with it."""

from __future__ import annotations

import ast
import stat
import sys
from pathlib import Path

from posekit.bench.peers import MEDIAPIPE, MMPOSE, RTMLIB, PeerPython, find_python, run_peer


def _executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_option_then_environment_then_default(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    explicit = _executable(tmp_path / "explicit" / "python", "exit 0")
    from_env = _executable(tmp_path / "env" / "python", "exit 0")
    env = {MMPOSE.env_var: str(from_env)}
    assert find_python(MMPOSE, explicit, environ=env).path == explicit
    assert find_python(MMPOSE, None, environ=env).path == from_env
    missing = find_python(MMPOSE, None, environ={})
    assert missing.path is None and MMPOSE.option in missing.reason and MMPOSE.env_var in missing.reason
    default = _executable(tmp_path / "venvs" / "mmpose" / "bin" / "python", "exit 0")
    assert find_python(MMPOSE, None, environ={}).path == default


def test_a_named_path_that_does_not_exist_is_not_replaced_by_the_next_place(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    _executable(tmp_path / "venvs" / "rtmlib" / "bin" / "python", "exit 0")
    got = find_python(RTMLIB, tmp_path / "nope", environ={})
    assert got.path is None and got.reason == f"--rtmlib-python {tmp_path / 'nope'} does not exist"
    got = find_python(RTMLIB, None, environ={RTMLIB.env_var: str(tmp_path / "gone")})
    assert got.path is None and got.reason == f"POSEKIT_RTMLIB_PYTHON={tmp_path / 'gone'} does not exist"


def test_spec_goes_in_on_stdin_and_the_last_stdout_line_comes_back(tmp_path: Path):
    # a "python" that echoes its stdin (the spec) after a line of chatter, as rtmlib prints "load ... backend"
    fake = _executable(tmp_path / "python", "echo 'load model.onnx with onnxruntime backend'\ncat")
    got = run_peer(PeerPython(MEDIAPIPE, fake), {"images": ["a.png"], "repeats": 2})
    assert got.data == {"images": ["a.png"], "repeats": 2} and got.reason == ""


def test_missing_python_and_timeout_give_reasons(tmp_path: Path):
    assert run_peer(PeerPython(MMPOSE, None, "MMPose not found"), {}).reason == "MMPose not found"
    slow = _executable(tmp_path / "python", "sleep 5")
    assert run_peer(PeerPython(MMPOSE, slow), {}, timeout_s=0.5).reason == "MMPose did not finish in 0.5 s"


def test_real_python_runs_a_peer_script_to_its_import_of_the_peer_library():
    # posekit's own Python has no mmpose: the script starts, imports timing.py from its folder, and fails on mmpose
    got = run_peer(PeerPython(MMPOSE, Path(sys.executable)), {"threads": 1})
    assert got.data is None and "No module named 'mmpose'" in got.reason


def test_peer_scripts_import_only_the_standard_library_and_timing_at_top_level():
    for peer in (MEDIAPIPE, MMPOSE, RTMLIB):
        tree = ast.parse(peer.script_path.read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {a.name.split(".")[0] for n in top if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module.split(".")[0] for n in top if isinstance(n, ast.ImportFrom) and n.module}
        assert names - set(sys.stdlib_module_names) == {"timing"}, (peer.script, names)
        everywhere = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        everywhere |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert "posekit" not in everywhere, peer.script
