"""``posekit bench`` of two revisions on the same machine, interleaved: is a change slower?

Checks out ``--base`` (a git revision) into a temporary worktree beside this checkout (so both find the same
``../shared`` inputs) and runs ``posekit bench`` from it and from this checkout alternately (``--rounds`` times
each, same options, same Python and packages), then prints per row the best per-unit median (ms per person or per
image) of each side and their ratio (``this / base``: above 1 is slower), and writes them as JSON.

    python benchmarks/compare_revisions.py --base 7f2ff8d --json docs/results/bench_compare.json \
        -- --suite all -m rtmpose_m -b eager,onnxruntime --repeats 5

Everything after ``--`` goes to ``posekit bench``. Run it on an idle machine (the bench prints a warning
otherwise); times are medians of ``--repeats`` calls in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bench(source: Path, bench_args: list[str], out: Path) -> list[dict]:
    """``posekit bench`` run from ``source`` (its ``posekit`` package first on the path); its JSON rows."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    cmd = [sys.executable, "-m", "posekit.cli", "bench", *bench_args, "--json", str(out)]
    subprocess.run(cmd, cwd=source, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())["rows"]


def _key(row: dict) -> str:
    return " | ".join(str(row.get(k, "")) for k in ("model", "flip", "runner", "count", "unit"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side, interleaved")
    parser.add_argument("--json", type=Path, help="write the comparison here")
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, help="-- then posekit bench options")
    args = parser.parse_args()
    bench_args = [a for a in args.bench_args if a != "--"]
    best: dict[str, dict[str, float]] = {"base": {}, "this": {}}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tempfile.mkdtemp(dir=ROOT.parent, prefix=".posekit-base-"))  # beside: the same ../shared
        subprocess.run(["git", "worktree", "add", "--detach", str(base), args.base], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            for i in range(args.rounds):
                for side, source in (("base", base), ("this", ROOT)):
                    for row in _bench(source, bench_args, Path(tmp) / f"{side}{i}.json"):
                        ms = row.get("per_unit_ms")
                        if isinstance(ms, (int, float)):
                            best[side][_key(row)] = min(ms, best[side].get(_key(row), float("inf")))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False,
                           capture_output=True)
    rows = [{"row": key, "base_ms": best["base"][key], "this_ms": ms, "ratio": round(ms / best["base"][key], 3)}
            for key, ms in best["this"].items() if key in best["base"]]
    for r in rows:
        print(f"{r['row']:70s} base {r['base_ms']:8.1f}  this {r['this_ms']:8.1f}  ratio {r['ratio']:.3f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"base": args.base, "bench_args": bench_args, "rounds": args.rounds,
                                         "load_average": os.getloadavg(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
