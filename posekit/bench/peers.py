"""Peers of ``posekit bench``: other libraries timed in their own virtual environments, found by path.

A peer's pins conflict with posekit's (MediaPipe 0.10.14 wants protobuf < 5, MMPose 1.3.2 mmcv 2.1), so each runs
under its own Python: the benchmark starts that Python on one of the ``peer_*.py`` scripts of the source
checkout's ``benchmarks/peers/`` (not part of the installed package: run ``posekit bench`` from a checkout, e.g. an
editable install, to time the peers), writes a JSON spec to its stdin and reads one JSON object from the last line of its stdout. A peer whose Python
is not found, exits non-zero, times out or prints no JSON gives a reason instead of numbers, and its row of the
table says "skipped: <reason>". The recipes for the environments are in ``benchmarks/README.md``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Peer", "PeerPython", "PeerOutput", "PEER_SCRIPTS", "MEDIAPIPE", "MMPOSE", "RTMLIB", "find_python",
           "run_peer"]


@dataclass(frozen=True)
class Peer:
    """One peer library.

    Attributes:
        name: short name, also the default environment's folder: ``~/venvs/<name>/bin/python``.
        label: how the table names it.
        option: the command-line option giving its Python.
        env_var: the environment variable giving its Python.
        script: the peer script (a file in the checkout's ``benchmarks/peers/``) that its Python runs.
    """

    name: str
    label: str
    option: str
    env_var: str
    script: str

    @property
    def default_python(self) -> Path:
        return Path.home() / "venvs" / self.name / "bin" / "python"

    @property
    def script_path(self) -> Path:
        return PEER_SCRIPTS / self.script


#: where the peer scripts are: ``benchmarks/peers/`` of the source checkout this package runs from
PEER_SCRIPTS = Path(__file__).resolve().parents[2] / "benchmarks" / "peers"

MEDIAPIPE = Peer("mediapipe", "MediaPipe", "--mediapipe-python", "POSEKIT_MEDIAPIPE_PYTHON", "peer_mediapipe.py")
MMPOSE = Peer("mmpose", "MMPose", "--mmpose-python", "POSEKIT_MMPOSE_PYTHON", "peer_mmpose.py")
RTMLIB = Peer("rtmlib", "rtmlib", "--rtmlib-python", "POSEKIT_RTMLIB_PYTHON", "peer_rtmlib.py")


@dataclass(frozen=True)
class PeerPython:
    """Where a peer's Python is: ``path`` (None when not found) and, when not found, the ``reason``."""

    peer: Peer
    path: Path | None
    reason: str = ""


def find_python(peer: Peer, explicit: str | os.PathLike[str] | None = None, *,
                environ: Mapping[str, str] | None = None) -> PeerPython:
    """The peer's Python: ``explicit`` (the command-line option) if given, else ``$<env_var>`` if set, else
    ``~/venvs/<name>/bin/python`` if it exists. An explicit or environment path that is not a file is reported
    as such (no silent fall-back to the next place)."""
    environ = os.environ if environ is None else environ
    if explicit is not None and str(explicit) != "":
        path = Path(explicit).expanduser()
        if not path.is_file():
            return PeerPython(peer, None, f"{peer.option} {path} does not exist")
        return PeerPython(peer, path)
    from_env = environ.get(peer.env_var, "")
    if from_env:
        path = Path(from_env).expanduser()
        if not path.is_file():
            return PeerPython(peer, None, f"{peer.env_var}={path} does not exist")
        return PeerPython(peer, path)
    if peer.default_python.is_file():
        return PeerPython(peer, peer.default_python)
    return PeerPython(peer, None, f"{peer.label} not found: pass {peer.option}, set {peer.env_var} or create "
                                  f"{peer.default_python.parent.parent} (recipe in benchmarks/README.md)")


@dataclass(frozen=True)
class PeerOutput:
    """What a peer run gave: its JSON object (``data``), or None and the ``reason``."""

    data: dict[str, Any] | None
    reason: str = ""


def _tail(text: str, *, lines: int = 3, chars: int = 400) -> str:
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    out = " | ".join(kept)
    return out if len(out) <= chars else "..." + out[-chars:]


def run_peer(python: PeerPython, spec: Mapping[str, Any], *, timeout_s: float = 600.0) -> PeerOutput:
    """Run ``python.peer``'s script under ``python.path`` with ``spec`` as JSON on stdin; its JSON reply, or
    the reason there is none (not found, exit status with the tail of its stderr, timeout, unreadable output)."""
    if python.path is None:
        return PeerOutput(None, python.reason or f"{python.peer.label} python not found")
    if not python.peer.script_path.is_file():
        return PeerOutput(None, f"{python.peer.script_path} not found: the peer scripts are in the source checkout's "
                                "benchmarks/peers/ (run posekit bench from a checkout)")
    cmd = [str(python.path), str(python.peer.script_path)]
    try:
        res = subprocess.run(cmd, input=json.dumps(dict(spec)), capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return PeerOutput(None, f"{python.peer.label} did not finish in {timeout_s:g} s")
    except OSError as exc:
        return PeerOutput(None, f"cannot run {python.path}: {exc}")
    if res.returncode != 0:
        return PeerOutput(None, f"{python.path} exited with status {res.returncode}: "
                                f"{_tail(res.stderr) or '(no stderr)'}")
    lines = [line for line in res.stdout.splitlines() if line.strip()]
    try:
        data = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return PeerOutput(None, f"{python.path} printed no JSON object: {_tail(res.stdout) or '(no output)'}")
    return PeerOutput(data)
