"""Imports inside functions are kept only where the import is heavy or optional (issue #14, section 4).

Every ``import`` inside a function of ``posekit/`` must match the allowlist below: a third-party module that is an
optional extra or heavy and used by one feature, or a posekit module that a light path (``import posekit``, the
CLI start-up, ``posekit models``) must not load, with the reason. Anything else belongs at the top of its module,
so lazy imports cannot silently come back. Entries match the module and its submodules; ``"posekit"`` itself
means the package root only.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "posekit"

# (importing modules) -> ({modules they may import inside functions}, why)
LAZY_IMPORTS: dict[tuple[str, ...], tuple[frozenset[str], str]] = {
    ("posekit",): (
        frozenset({"onnx", "onnxruntime", "tflite", "matplotlib", "pycocotools", "torch.utils.tensorboard", "h5py"}),
        "optional extras ([onnx], TensorBoard) or heavy parsers/plotting used by one feature; `import posekit` "
        "must not load tflite, matplotlib or pycocotools (tests/test_package.py)",
    ),
    ("posekit.cli", "posekit.cli_common", "posekit.cli_predict", "posekit.cli_weights", "posekit.cli_eval3d",
     "posekit.cli_triangulate", "posekit.cli_robustness", "posekit.cli_datamap", "posekit.cli_ood",
     "posekit.cli_crosseval", "posekit.cli_serve", "posekit.cli_batch", "posekit.bench"): (
        frozenset({
            "torch", "posekit", "posekit.pipelines", "posekit.runtime.torch_runner", "posekit.runtime.onnx_export",
            "posekit.runtime.onnx_files", "posekit.runtime.threads",
            "posekit.models.mmpose_zoo", "posekit.models.mediapipe_wheel", "posekit.models.npm_package",
            "posekit.models.npm_models",
            "posekit.codecs", "posekit.detect", "posekit.video", "posekit.analysis", "posekit.eval", "posekit.train",
            "posekit.lift", "posekit.cli_eval3d", "posekit.threed", "posekit.generalization",
            "posekit.types", "posekit.serve", "uvicorn", "posekit.batch",
            "posekit.models.lifters.normalize",
        }),
        "CLI start-up: verbs import what they run (torch, scipy, h5py, yaml and the modules that load them) when "
        "they run, so `posekit --help` and `posekit models` do not",
    ),
    ("posekit.batch.engine",): (
        frozenset({"posekit.batch.ray_engine"}),
        "Ray is the optional [ray] extra: the Ray engine is imported only when a run asks for it",
    ),
    ("posekit.generalization.embed",): (
        frozenset({"umap"}),
        "umap-learn is the optional [map] extra (numba compiles on import); PCA maps work without it",
    ),
    ("posekit.pipelines.base",): (
        frozenset({"posekit.pipelines.registry"}),
        "PoseEstimator.from_pretrained: the registry imports every pipeline, which subclass PoseEstimator (the one "
        "allowed cycle, [tool.importlinter] in pyproject.toml)",
    ),
    ("posekit.pipelines.base", "posekit.pipelines.topdown", "posekit.pipelines.movenet", "posekit.models.weights",
     "posekit.models.mediapipe_wheel", "posekit.models.converted", "posekit.models.npm_models"): (
        frozenset({"posekit.video", "posekit.codecs", "posekit.models.topdown", "posekit.runtime.onnx_files",
                   "safetensors", "posekit.models.tflite", "posekit.models.tfjs"}),
        "`import posekit` loads these importers: PoseEstimator.track, the top-down codec/spec/ONNX helpers, "
        "checkpoint files and the TFLite / TensorFlow.js converters (with the flatbuffer parser) load on use, not "
        "at import (about 25 ms, and tflite)",
    ),
    ("posekit.eval.lift3d",): (
        frozenset({"posekit.lift.pipeline"}),
        "the lifter (torch and the lifter zoo) loads when a lifter is evaluated, not when the data are read",
    ),
    ("posekit.video.runner",): (
        frozenset({"posekit.track"}),
        "tracking and smoothing load scipy (~0.6 s) only when asked for",
    ),
    ("posekit.models.hrnet", "posekit.models.rtmpose", "posekit.models.simplebaseline", "posekit.models.vitpose",
     "posekit.models.mmpose_zoo", "posekit.models.lifters.zoo", "posekit.models.rtmo_zoo",
     "posekit.models.detector_zoo", "posekit.models.rtmw"): (
        frozenset({"posekit.models.backbones", "posekit.models.heads", "posekit.models.necks", "posekit.models.topdown",
                   "posekit.codecs",
                   "posekit.models.lifters.mlp", "posekit.models.lifters.temporal", "posekit.models.rtmo",
                   "posekit.models.rtmdet", "posekit.models.yolox"}),
        "model zoo entries: `posekit models` lists them without importing the networks (about 35 ms)",
    ),
}


def _under(prefix: str, name: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _covers(target: str, name: str) -> bool:
    return name == target if target == "posekit" else _under(target, name)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules ``node`` imports (``from pkg import sub`` names the submodule ``pkg.sub`` when it is one)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
    out = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        is_sub = sub.startswith("posekit.") and (
            (PACKAGE.parent / Path(*sub.split("."))).with_suffix(".py").is_file()
            or (PACKAGE.parent / Path(*sub.split(".")) / "__init__.py").is_file())
        out.append(sub if is_sub else base)
    return list(dict.fromkeys(out))


def function_level_imports() -> list[tuple[str, str, str]]:
    """``(importing module, "path:line", imported module)`` for every import inside a function of posekit/."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        seen: set[int] = set()
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in seen:
                    seen.add(id(node))  # nested functions are walked twice
                    where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                    found += [(module, where, name) for name in
                              _imported(module, path.name == "__init__.py", node)]
    return found


def _allowed_by(module: str, imported: str) -> list[tuple[str, ...]]:
    return [importers for importers, (allowed, _) in LAZY_IMPORTS.items()
            if any(_under(p, module) for p in importers) and any(_covers(a, imported) for a in allowed)]


def test_function_level_imports_are_allowlisted() -> None:
    bad = [f"{where}: {imported}" for module, where, imported in function_level_imports()
           if not _allowed_by(module, imported)]
    assert not bad, ("imports inside functions that are neither heavy nor optional: move them to the top of the "
                     "module (or, if a light path must not load them, add them to LAZY_IMPORTS with the reason):\n"
                     + "\n".join(bad))


def test_allowlist_has_no_stale_entries() -> None:
    imports = function_level_imports()
    for importers, (allowed, _) in LAZY_IMPORTS.items():
        for target in allowed:
            assert any(any(_under(p, m) for p in importers) and _covers(target, i) for m, _, i in imports), (
                f"LAZY_IMPORTS[{importers}] allows {target!r} but no function imports it any more: remove it")


def test_the_walk_sees_function_level_imports() -> None:
    # The documented cycle-breaker is one: if the walk missed it, the allowlist test would pass vacuously.
    assert ("posekit.pipelines.base", "posekit.pipelines.registry") in {(m, i) for m, _, i in function_level_imports()}
