"""Winograd F(2, 3) for dilated 3-tap 1D convolutions: 4 matrix products per pair of output frames instead of 6.

A 3-tap convolution with dilation d (``F.conv1d(x, w, b, dilation=d)``, no padding, stride 1) computes, for every
output frame t, ``y[t] = g0 @ x[t] + g1 @ x[t + d] + g2 @ x[t + 2d] + b`` with taps ``g_k = w[:, :, k]``
(Cout, Cin). Two outputs d frames apart, ``y[t]`` and ``y[t + d]``, read the four inputs
``d0, d1, d2, d3 = x[t], x[t + d], x[t + 2d], x[t + 3d]``, and Winograd's minimal filtering algorithm F(2, 3)
gives both from four products::

    m1 = g0 @ (d0 - d2)                    m2 = ((g0 + g1 + g2) / 2) @ (d1 + d2)
    m4 = g2 @ (d1 - d3)                    m3 = ((g0 - g1 + g2) / 2) @ (d2 - d1)
    y[t] = m1 + m2 + m3 + b                y[t + d] = m2 - m3 - m4 + b

Output frames are grouped in blocks of 2d consecutive frames: block q holds the pairs ``y[2dq + j]``,
``y[2dq + j + d]`` (j < d), which read the input blocks q and q + 1, each split in two halves of d frames. So a
layer is 4 GEMMs of (Cout, Cin) @ (Cin, T/2) instead of 3 over T columns (1.5x fewer multiply-adds), plus
element-wise passes for the input and output transforms, done in chunks of blocks that stay in cache. The last
``(T - 2d) mod 2d`` output frames (less than one block) are computed directly.

Two memory layouts:

* :func:`winograd_conv1d`: ``(B, C, T)``, PyTorch's ``Conv1d`` layout. The transforms touch runs of only d
  contiguous values, which is slow for small dilations: the VideoPose3D-243 backbone gains 1.1x with it against
  1.27x channels-last (``benchmarks/bench_lift.py``);
* :func:`winograd_conv1d_nlc`: ``(B, T, C)`` ("channels last"; every frame a contiguous row of C values). The
  transforms touch whole rows whatever d is; :meth:`~posekit.models.lifters.temporal.TCN.forward_dilated_fused`
  keeps its activations in this layout, with :func:`conv1d_nlc` (a direct convolution as one GEMM per tap) for
  the other layers.

Results equal ``F.conv1d`` to floating-point rounding: float32 ~1e-6 relative (the transforms add and subtract
before the products; tested to 1e-5). In bfloat16 the transformed operands and the products are rounded to 8
bits of mantissa: one 1024-channel layer's error is ~1.5-2x that of a direct bfloat16 convolution (~5e-3 of
the largest output instead of ~3e-3).

Speed (AMD EPYC, 2 threads, float32, 1024 channels, 10,240 frames, one layer): 0.26 s against 0.33 s for
``F.conv1d``; the 4 GEMMs alone take 0.245 s, so the transforms cost ~5 %.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["winograd_weights", "winograd_conv1d", "winograd_conv1d_nlc", "conv1d_nlc", "winograd_pays_off"]

# Output-frame pairs per chunk: the transformed inputs of a chunk (4 x Cin x pairs values) stay in cache.
_CHUNK_PAIRS = 512
# conv1d_nlc copies the windows of x into one (T, Cin * k) matrix when it is this narrow (the network's input).
_IM2COL_MAX = 256


def winograd_weights(weight: torch.Tensor) -> torch.Tensor:
    """Transformed taps of a 3-tap convolution.

    Args:
        weight: (Cout, Cin, 3) float convolution weight (``nn.Conv1d.weight`` layout).

    Returns:
        (4, Cout, Cin) new contiguous tensor, dtype of ``weight``: ``g0``, ``(g0 + g1 + g2) / 2``,
        ``(g0 - g1 + g2) / 2``, ``g2`` (half-precision weights are transformed in float32, then rounded).
    """
    if weight.ndim != 3 or weight.shape[2] != 3:
        raise ValueError(f"weight must have shape (Cout, Cin, 3), got {tuple(weight.shape)}")
    w = weight.float() if weight.dtype in (torch.float16, torch.bfloat16) else weight
    g0, g1, g2 = w.unbind(2)
    half_sum = (g0 + g2) * 0.5
    return torch.stack([g0, half_sum + g1 * 0.5, half_sum - g1 * 0.5, g2]).to(weight.dtype).contiguous()


def winograd_pays_off(channels_in: int, channels_out: int, frames: int, *, dilation: int) -> bool:
    """Whether :func:`winograd_conv1d_nlc` is expected to beat a direct convolution for this layer on CPU.

    A heuristic from timings on AVX-512 CPUs: the saved products (``Cout * Cin`` multiply-adds per output pair)
    must outweigh the transforms (a few passes over ``Cin + Cout`` values per pair), and most output frames
    must lie in whole blocks of ``2 * dilation`` frames: true from 256 channels and 1024 output frames up.
    """
    out_frames = frames - 2 * dilation
    return min(channels_in, channels_out) >= 256 and out_frames >= max(1024, 8 * dilation)


def _check(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dilation: int, *,
           layout: str, taps: int | None = 3) -> None:
    if x.ndim != 3:
        raise ValueError(f"x must have shape {layout}, got {tuple(x.shape)}")
    cin = x.shape[2] if layout == "(B, T, Cin)" else x.shape[1]
    if weight.ndim != 3 or weight.shape[1] != cin or (taps is not None and weight.shape[2] != taps):
        kernel = "k" if taps is None else str(taps)
        raise ValueError(f"weight must have shape (Cout, {cin}, {kernel}) for x of shape {layout} = "
                         f"{tuple(x.shape)}, got {tuple(weight.shape)}")
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        raise ValueError(f"weight and bias must have the dtype of x ({x.dtype}), got {weight.dtype}"
                         f"{'' if bias is None else ' and ' + str(bias.dtype)}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    if int(dilation) < 1:
        raise ValueError(f"dilation must be >= 1, got {dilation}")
    frames = x.shape[1] if layout == "(B, T, Cin)" else x.shape[2]
    span = (weight.shape[2] - 1) * int(dilation)
    if frames <= span:
        raise ValueError(f"x needs more than (kernel - 1) * dilation = {span} frames, got {frames}")


def _gemm(a: torch.Tensor, w: torch.Tensor, out: torch.Tensor, *, channels_last: bool,
          bias: torch.Tensor | None = None, accumulate: bool = False, alpha: float = 1.0) -> None:
    """``out (+)= alpha * a @ w.T (+ bias)`` on time-major views: a (n, Cin), w (Cout, Cin), out (n, Cout).

    ``channels_last``: ``a`` and ``out`` are row-major (frames are rows); else they are transposed views of
    column-major (C, n) storage and the product is computed as ``w @ a.T`` into ``out.T``.
    """
    if channels_last:
        if accumulate:
            out.addmm_(a, w.t(), alpha=alpha)
        elif bias is None:
            torch.mm(a, w.t(), out=out)
        else:
            torch.addmm(bias, a, w.t(), out=out)
    else:
        o = out.t()
        if accumulate:
            o.addmm_(w, a.t(), alpha=alpha)
        elif bias is None:
            torch.mm(w, a.t(), out=o)
        else:
            torch.addmm(bias[:, None], w, a.t(), out=o)


def _direct_time_major(x: torch.Tensor, taps: torch.Tensor, bias: torch.Tensor | None, dilation: int,
                       out: torch.Tensor, *, channels_last: bool) -> None:
    """out (L, Cout) = conv of x (T, Cin) with taps (k, Cout, Cin): one GEMM per tap, accumulated in ``out``."""
    length = out.shape[0]
    for k in range(taps.shape[0]):
        xs = x[k * dilation : k * dilation + length]
        _gemm(xs, taps[k], out, channels_last=channels_last, bias=bias if k == 0 else None, accumulate=k > 0)


def _windows_time_major(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dilation: int,
                        out: torch.Tensor, *, channels_last: bool) -> None:
    """out (L, Cout) = conv of x (T, Cin) as one GEMM: the windows of x copied into an (L, Cin * k) matrix."""
    cout, cin, k = weight.shape
    length = out.shape[0]
    windows = x[: length + (k - 1) * dilation].unfold(0, (k - 1) * dilation + 1, 1)[:, :, ::dilation]  # (L, Cin, k)
    _gemm(windows.reshape(length, cin * k), weight.reshape(cout, cin * k), out, channels_last=channels_last,
          bias=bias)


def _winograd_time_major(x: torch.Tensor, weight: torch.Tensor, tw: torch.Tensor, bias: torch.Tensor | None,
                         dilation: int, out: torch.Tensor, buffers: tuple[torch.Tensor, ...], *,
                         channels_last: bool, relu: bool) -> None:
    """Fill out (L, Cout) from x (T, Cin) (time-major views of one batch item) by F(2, 3); see the module doc."""
    d = dilation
    cin, cout = x.shape[1], out.shape[1]
    length = out.shape[0]
    blocks = length // (2 * d)
    done = blocks * 2 * d
    if done < length:  # the tail, less than one block: direct
        tail = out[done:]
        _windows_time_major(x[done:], weight, bias, d, tail, channels_last=channels_last)
        if relu:
            tail.clamp_min_(0)
    if blocks == 0:
        return
    u_buf, m_buf, y_buf = buffers
    w1, wp, wm, w4 = tw.unbind(0)
    step = max(1, _CHUNK_PAIRS // d)  # blocks per chunk
    xb = x[: 2 * d * (blocks + 1)].view(blocks + 1, 2, d, cin)  # input halves (q, h) = frames 2dq + hd + j
    ob = out[:done].view(blocks, 2, d, cout)

    def time_major(buf: torch.Tensor, count: int, n: int, channels: int) -> torch.Tensor:
        if channels_last:
            return buf[: count * n * channels].view(count, n, channels)
        return buf[: count * channels * n].view(count, channels, n).transpose(1, 2)

    for q0 in range(0, blocks, step):
        q1 = min(q0 + step, blocks)
        n = (q1 - q0) * d
        u = time_major(u_buf, 4, n, cin)
        uv = u.view(4, q1 - q0, d, cin)
        d0, d1 = xb[q0:q1, 0], xb[q0:q1, 1]
        d2, d3 = xb[q0 + 1 : q1 + 1, 0], xb[q0 + 1 : q1 + 1, 1]
        torch.sub(d0, d2, out=uv[0])
        torch.add(d1, d2, out=uv[1])
        torch.sub(d2, d1, out=uv[2])
        torch.sub(d1, d3, out=uv[3])
        m2, m3 = time_major(m_buf, 2, n, cout).unbind(0)
        y = time_major(y_buf, 2, n, cout)
        _gemm(u[1], wp, m2, channels_last=channels_last, bias=bias)  # m2 + b
        _gemm(u[2], wm, m3, channels_last=channels_last)
        torch.add(m2, m3, out=y[0])
        torch.sub(m2, m3, out=y[1])
        _gemm(u[0], w1, y[0], channels_last=channels_last, accumulate=True)  # y(t) = m1 + m2 + m3 + b
        _gemm(u[3], w4, y[1], channels_last=channels_last, accumulate=True, alpha=-1.0)  # y(t+d) = m2 - m3 - m4 + b
        target = ob[q0:q1].transpose(0, 1)  # (2, blocks, d, Cout): half h of each block
        src = y.view(2, q1 - q0, d, cout)
        if relu:
            torch.clamp_min(src, 0, out=target)
        else:
            target.copy_(src)


def _output(x: torch.Tensor, shape: tuple[int, ...], out: torch.Tensor | None) -> torch.Tensor:
    """A new (B, ..., ...) output, or ``out`` checked (shape, dtype, contiguous, no overlap with ``x``)."""
    if out is None:
        return torch.empty(shape, dtype=x.dtype, device=x.device)
    if tuple(out.shape) != shape or out.dtype != x.dtype or not out.is_contiguous():
        raise ValueError(f"out must be a contiguous {shape} {x.dtype} tensor, got {tuple(out.shape)} {out.dtype}"
                         f"{'' if out.is_contiguous() else ' (not contiguous)'}")
    if out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr():
        raise ValueError("out must not share memory with x")
    return out


def _run(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dilation: int, *, relu: bool,
         transformed: torch.Tensor | None, channels_last: bool, out: torch.Tensor | None = None) -> torch.Tensor:
    batch = x.shape[0]
    cin, frames = (x.shape[2], x.shape[1]) if channels_last else (x.shape[1], x.shape[2])
    cout, d = weight.shape[0], int(dilation)
    length = frames - 2 * d
    out = _output(x, (batch, length, cout) if channels_last else (batch, cout, length), out)
    x = x.contiguous()
    if transformed is None:
        transformed = winograd_weights(weight)
    elif tuple(transformed.shape) != (4, cout, cin) or transformed.dtype != x.dtype:
        raise ValueError(f"transformed must be a (4, {cout}, {cin}) {x.dtype} tensor (winograd_weights), got "
                         f"{tuple(transformed.shape)} {transformed.dtype}")
    transformed = transformed.contiguous()
    weight = weight.contiguous()
    opts = dict(dtype=x.dtype, device=x.device)
    pairs = min(max(1, _CHUNK_PAIRS // d), max(1, length // (2 * d))) * d
    buffers = (torch.empty(4 * cin * pairs, **opts), torch.empty(2 * cout * pairs, **opts),
               torch.empty(2 * cout * pairs, **opts))
    for b in range(batch):
        xt, ot = (x[b], out[b]) if channels_last else (x[b].t(), out[b].t())
        _winograd_time_major(xt, weight, transformed, bias, d, ot, buffers, channels_last=channels_last, relu=relu)
    return out


def winograd_conv1d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, *,
                    dilation: int = 1, relu: bool = False,
                    transformed: torch.Tensor | None = None) -> torch.Tensor:
    """``F.conv1d(x, weight, bias, dilation=dilation)`` (then ReLU if ``relu``) for 3-tap kernels, by F(2, 3).

    Args:
        x: (B, Cin, T) float32 / float64 / bfloat16 / float16 signal, ``T > 2 * dilation``.
        weight: (Cout, Cin, 3), same dtype as ``x``.
        bias: (Cout,) or None, same dtype.
        dilation: d >= 1, frames between taps.
        relu: apply ReLU to the output (fused into the last pass).
        transformed: :func:`winograd_weights` of ``weight`` if already computed.

    Returns:
        (B, Cout, T - 2d) new contiguous tensor, dtype of ``x``: output frame t is the window starting at input
        frame t (no padding, stride 1), exactly like ``F.conv1d``. The inputs are not modified.
    """
    _check(x, weight, bias, dilation, layout="(B, Cin, T)")
    return _run(x, weight, bias, dilation, relu=relu, transformed=transformed, channels_last=False)


def winograd_conv1d_nlc(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, *,
                        dilation: int = 1, relu: bool = False, transformed: torch.Tensor | None = None,
                        out: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`winograd_conv1d` in the channels-last layout: (B, T, Cin) -> (B, T - 2d, Cout).

    Equals ``F.conv1d(x.transpose(1, 2), weight, bias, dilation=dilation).transpose(1, 2)`` (then ReLU if
    ``relu``) to rounding; ``weight`` is still (Cout, Cin, 3). Returns a new contiguous (B, T - 2d, Cout)
    tensor, or writes into ``out`` (a contiguous tensor of that shape and dtype, not sharing memory with ``x``)
    and returns it: reusing buffers saves the page faults of fresh allocations (~10 ms per 40 MB).
    """
    _check(x, weight, bias, dilation, layout="(B, T, Cin)")
    return _run(x, weight, bias, dilation, relu=relu, transformed=transformed, channels_last=True, out=out)


def conv1d_nlc(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, *, dilation: int = 1,
               relu: bool = False, out: torch.Tensor | None = None) -> torch.Tensor:
    """Direct convolution in the channels-last layout, one GEMM per tap: (B, T, Cin) -> (B, T - (k-1) d, Cout).

    Equals ``F.conv1d(x.transpose(1, 2), weight, bias, dilation=dilation).transpose(1, 2)`` (then ReLU if
    ``relu``) to rounding, for any kernel size k (``weight``: (Cout, Cin, k), dtype of ``x``; ``bias``: (Cout,)
    or None). Returns a new contiguous tensor, or writes into ``out`` (as in :func:`winograd_conv1d_nlc`). A 1x1
    convolution is a single ``addmm``.
    """
    _check(x, weight, bias, dilation, layout="(B, T, Cin)", taps=None)
    cout, cin, k = weight.shape
    d = int(dilation)
    length = x.shape[1] - (k - 1) * d
    out = _output(x, (x.shape[0], length, cout), out)
    x = x.contiguous()
    if k > 1 and cin * k <= _IM2COL_MAX:  # few input channels (a network's first layer): one GEMM over windows
        weight = weight.contiguous()
        for b in range(x.shape[0]):
            _windows_time_major(x[b], weight, bias, d, out[b], channels_last=True)
    else:
        taps = weight.permute(2, 0, 1).contiguous()
        for b in range(x.shape[0]):
            _direct_time_major(x[b], taps, bias, d, out[b], channels_last=True)
    return F.relu_(out) if relu else out
