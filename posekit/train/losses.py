"""Training losses: heatmap MSE, SimCC KL divergence, coordinate L1 / L2 / smooth-L1, and MPJPE for 3D.

Each is a plain function reproducing the MMPose 1.3.2 loss of the same role (formula, weighting and reduction),
so MMPose's learning rates and loss weights carry over. Shapes: ``B`` instances, ``K`` keypoints. ``weights`` are
the codecs' ``keypoint_weights`` (B, K): a keypoint with weight 0 contributes neither loss nor gradient. Targets must
be finite (the codecs write 0, never NaN, for unlabelled keypoints): masking multiplies by the weight, and
``0 * NaN`` is NaN. Half-precision predictions (AMP) are promoted to float32 before the loss; the result is a
0-dim float32 tensor. MMPose's ``loss_weight`` factor is left to the caller.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "coord_l1_loss", "coord_mse_loss", "coord_smooth_l1_loss", "heatmap_mse_loss", "mpjpe_loss", "simcc_kl_loss",
]


def _float(x: Tensor) -> Tensor:
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _pair(name: str, pred: Tensor, target: Tensor, ndim: int | None = None) -> tuple[Tensor, Tensor]:
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{name}: pred and target must be torch tensors, got {type(pred).__name__}, "
                        f"{type(target).__name__}")
    if pred.shape != target.shape:
        raise ValueError(f"{name}: pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    if ndim is not None and pred.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim}-D tensors, got shape {tuple(pred.shape)}")
    return _float(pred), _float(target).to(_float(pred).dtype)


def _weights(name: str, weights: Tensor | None, lead: tuple[int, ...], pad: int, dtype: torch.dtype) -> Tensor | None:
    """``weights`` of shape ``lead`` (e.g. (B, K)) reshaped with ``pad`` trailing singleton dims."""
    if weights is None:
        return None
    if tuple(weights.shape) != lead:
        raise ValueError(f"{name}: weights must have shape {lead} (instances, keypoints), got {tuple(weights.shape)}")
    return weights.to(dtype).reshape(*lead, *([1] * pad))


def heatmap_mse_loss(
    pred: Tensor,
    target: Tensor,
    weights: Tensor | None = None,
    *,
    mask: Tensor | None = None,
    skip_empty_channel: bool = False,
) -> Tensor:
    """Mean squared error between heatmaps (MMPose ``KeypointMSELoss``; ``use_target_weight`` = weights given).

    ``mean((pred - target)^2 * m)`` over **all** B*K*H*W elements, ``m`` = weights (B, K, 1, 1) times ``mask``
    (times the non-empty-channel mask); without any mask, ``F.mse_loss`` (mean). Zero-weight channels still count in
    the mean's denominator, as in MMPose.

    Args:
        pred: (B, K, H, W) predicted heatmaps (also the SRCNN refinement head's output vs its high-resolution targets).
        target: (B, K, H, W) codec targets.
        weights: (B, K) keypoint weights, or None.
        mask: pixel mask broadcastable as (B, K|1, H, W), or None.
        skip_empty_channel: also mask channels whose target is all zero. (MMPose 1.3.2 reduces that test over the
            whole batch by mistake -- ``.any()`` without a dim; here it is per channel as documented there.)

    Returns:
        0-dim float32 tensor.
    """
    pred, target = _pair("heatmap_mse_loss", pred, target, ndim=4)
    m = _weights("heatmap_mse_loss", weights, tuple(pred.shape[:2]), 2, pred.dtype)
    if mask is not None:
        if mask.ndim != 4 or any(a not in (1, b) for a, b in zip(mask.shape, pred.shape)):
            raise ValueError(f"heatmap_mse_loss: mask shape {tuple(mask.shape)} does not broadcast to "
                             f"{tuple(pred.shape)}")
        m = mask.to(pred.dtype) if m is None else m * mask.to(pred.dtype)
    if skip_empty_channel:
        nonempty = (target != 0).flatten(2).any(dim=2).to(pred.dtype)[:, :, None, None]
        m = nonempty if m is None else m * nonempty
    if m is None:
        return F.mse_loss(pred, target)
    return (F.mse_loss(pred, target, reduction="none") * m).mean()


def simcc_kl_loss(
    pred_x: Tensor,
    pred_y: Tensor,
    target_x: Tensor,
    target_y: Tensor,
    weights: Tensor | None = None,
    *,
    beta: float = 10.0,
    label_softmax: bool = True,
    label_beta: float = 10.0,
) -> Tensor:
    """KL divergence between SimCC label vectors and predicted distributions (MMPose ``KLDiscretLoss``).

    Per axis and keypoint: ``p = softmax(beta * pred)``, ``q = softmax(label_beta * target)`` if ``label_softmax``
    else ``target``; ``kl = mean over bins of q * (log q - log p)`` (``F.kl_div``, 0 where q = 0); the loss is
    ``sum over B, K and both axes of weight * kl``, divided by K (a sum over the batch, as MMPose). The defaults are
    the RTMPose recipes' (``beta=10, label_softmax=True``); MMPose's class defaults are ``beta=1, label_softmax=False``.

    Args:
        pred_x, target_x: (B, K, Wx) logits and labels along x.
        pred_y, target_y: (B, K, Hy) along y.
        weights: (B, K) keypoint weights, or None (``use_target_weight=False``).

    Returns:
        0-dim float32 tensor.
    """
    pred_x, target_x = _pair("simcc_kl_loss (x)", pred_x, target_x, ndim=3)
    pred_y, target_y = _pair("simcc_kl_loss (y)", pred_y, target_y, ndim=3)
    if pred_x.shape[:2] != pred_y.shape[:2]:
        raise ValueError(f"simcc_kl_loss: x and y disagree on (B, K): {tuple(pred_x.shape[:2])} vs "
                         f"{tuple(pred_y.shape[:2])}")
    w = _weights("simcc_kl_loss", weights, tuple(pred_x.shape[:2]), 0, pred_x.dtype)
    total = pred_x.new_zeros(())
    for pred, target in ((pred_x, target_x), (pred_y, target_y)):
        log_p = F.log_softmax(pred * beta, dim=-1)
        labels = F.softmax(target * label_beta, dim=-1) if label_softmax else target
        kl = F.kl_div(log_p, labels, reduction="none").mean(dim=-1)  # (B, K)
        total = total + (kl if w is None else kl * w).sum()
    return total / pred_x.shape[1]


def _coords(name: str, pred: Tensor, target: Tensor, weights: Tensor | None) -> tuple[Tensor, Tensor]:
    """MMPose's regression weighting: ``pred * w`` and ``target * w`` with w (B, K, 1)."""
    pred, target = _pair(name, pred, target, ndim=3)
    w = _weights(name, weights, tuple(pred.shape[:2]), 1, pred.dtype)
    return (pred, target) if w is None else (pred * w, target * w)


def coord_l1_loss(pred: Tensor, target: Tensor, weights: Tensor | None = None) -> Tensor:
    """Mean absolute error of coordinates (MMPose ``L1Loss``): ``mean |pred * w - target * w|`` over B*K*D.

    Args:
        pred, target: (B, K, D) coordinates (the ``Regression`` codec's normalised labels, D = 2).
        weights: (B, K), or None.
    """
    pred, target = _coords("coord_l1_loss", pred, target, weights)
    return F.l1_loss(pred, target)


def coord_mse_loss(pred: Tensor, target: Tensor, weights: Tensor | None = None) -> Tensor:
    """Mean squared error of coordinates (MMPose regression ``MSELoss``): ``mean (pred * w - target * w)^2``
    (so a fractional weight counts squared, as in MMPose). Shapes as :func:`coord_l1_loss`."""
    pred, target = _coords("coord_mse_loss", pred, target, weights)
    return F.mse_loss(pred, target)


def coord_smooth_l1_loss(pred: Tensor, target: Tensor, weights: Tensor | None = None, *, beta: float = 1.0) -> Tensor:
    """Smooth-L1 (Huber / ``beta``) of coordinates (MMPose ``SmoothL1Loss``): ``F.smooth_l1_loss(pred * w,
    target * w)``, mean over B*K*D. Shapes as :func:`coord_l1_loss`."""
    pred, target = _coords("coord_smooth_l1_loss", pred, target, weights)
    return F.smooth_l1_loss(pred, target, beta=beta)


def mpjpe_loss(pred: Tensor, target: Tensor, weights: Tensor | None = None) -> Tensor:
    """Mean per-joint position error (MMPose ``MPJPELoss``): ``mean ||(pred - target) * w||_2`` over joints.

    Args:
        pred, target: (..., K, 3) joint positions (any unit; the loss has the same unit), e.g. (B, K, 3) or
            (B, T, K, 3).
        weights: (..., K) joint weights matching the leading dims, or None.

    Returns:
        0-dim float32 tensor. The gradient at an exact match (zero error) is 0, not NaN.
    """
    pred, target = _pair("mpjpe_loss", pred, target)
    if pred.ndim < 2 or pred.shape[-1] not in (2, 3):
        raise ValueError(f"mpjpe_loss: expected (..., K, 3) positions, got shape {tuple(pred.shape)}")
    diff = pred - target
    if weights is not None:
        diff = diff * _weights("mpjpe_loss", weights, tuple(pred.shape[:-1]), 1, pred.dtype)
    return torch.linalg.vector_norm(diff, dim=-1).mean()
