"""The inference-engine options shared by ``posekit predict`` and ``posekit video``: Typer option types and one
function that builds the estimator from them (errors become ``posekit: error: ...`` with exit code 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

Device = Annotated[str, typer.Option(help="torch device: cpu, cuda, cuda:1, ... (torch backend).")]
Backend = Annotated[str, typer.Option(
    help="torch | onnxruntime (the networks exported to ONNX once, cached, run by ONNX Runtime on CPU; "
         "pre/post-processing unchanged).")]
Precision = Annotated[str, typer.Option(
    help="fp32 | bf16 (autocast, CPU/CUDA; top-down models only) | fp16 (autocast, CUDA only).")]
Compile = Annotated[bool, typer.Option(
    "--compile", help="Run the networks through torch.compile (CPU: with weight freezing; the first images "
                      "compile, ~15-60 s).")]
BatchSize = Annotated[Optional[int], typer.Option(
    min=1, help="Crops (persons) per forward pass (default: the model's, 32 for top-down).")]


def fail(message: str, code: int = 2) -> None:
    """Print ``posekit: error: message`` on stderr and exit with ``code``."""
    typer.echo(f"posekit: error: {message}", err=True)
    raise typer.Exit(code)


def build_estimator(model: str, *, device: str = "cpu", backend: str = "torch", precision: str = "fp32",
                    compile: bool = False, batch_size: int | None = None, weights: Path | None = None,
                    **options: Any) -> Any:
    """``PoseEstimator.from_pretrained(model, ...)`` with only the options that differ from the defaults (so
    builders that do not take an option are not handed it); bad values and load failures exit with a message."""
    from posekit.pipelines.base import BACKENDS, PoseEstimator  # imports torch: not at CLI start-up
    from posekit.pipelines.engine import PRECISIONS

    if backend not in BACKENDS:
        fail(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if precision not in PRECISIONS:
        fail(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if weights is not None and not Path(weights).is_file():
        fail(f"--weights {weights}: no such file")
    chosen = {"backend": backend, "precision": precision, "compile": compile, "batch_size": batch_size,
              "weights": weights}
    defaults = {"backend": "torch", "precision": "fp32", "compile": False, "batch_size": None, "weights": None}
    kwargs = {k: v for k, v in chosen.items() if v != defaults[k]}
    if device != "cpu" or backend == "torch":
        kwargs["device"] = device
    try:
        return PoseEstimator.from_pretrained(model, **kwargs, **options)
    except KeyError as exc:
        fail(str(exc.args[0]))
    except (ValueError, TypeError, RuntimeError, OSError, ImportError) as exc:  # RuntimeError: download/checksum
        fail(f"{model}: {exc}")
    raise AssertionError("unreachable")
