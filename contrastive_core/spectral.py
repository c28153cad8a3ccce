"""Spectral sharpening: raise the singular values of a map (or a stack of maps) to a power."""

import mlx.core as mx

from .errors import check_finite, check_ndim, check_positive
from .low_rank import SAFE_MAGNITUDE_RANGE, sharpen_truncated

# Lower bound for divisors, so an all-zero matrix (largest singular value 0) stays zero without NaN.
DIVISOR_FLOOR = 1e-30


def sharpen_singular_values(matrix: mx.array, exponent: float) -> mx.array:
    """Map each singular value s_i of matrix [m, n] to s_1 * (s_i / s_1) ** exponent: [m, n].

    Accuracy, with E the exact sharpening of the float32 input and R the result: exponent 1
    returns the input and an all-zero matrix stays zero, both exactly. For exponent > 1,
    ||R - E||_F <= 1e-4 * ||E||_F. There, with both sides >= 256, a truncated SVD is used when
    its certified truncation error is at most 2e-5 (see contrastive_core.low_rank), and the exact
    SVD otherwise; the rest of the budget covers float32 rounding, which is measured against a
    float64 SVD in tests/core/test_spectral.py but not certified. For exponent < 1 the exact SVD
    is used and the same bound holds only for well-conditioned maps such as noise.

    NOTE: below exponent 1, s ** p has unbounded slope at 0, so singular values at float32
    rounding level are raised to about (1e-7) ** p * s_1. On rank-deficient maps such as masks
    the relative error then reaches about 4e-3 at exponent 0.5 and 512 x 512 (tested <= 1e-2),
    and grows for smaller exponents.

    Linear algebra runs on the CPU stream in float32, because MLX implements QR and SVD only
    there and only for float32 and float64. No max(m, n) x max(m, n) array is built.
    """
    exponent = check_positive("exponent", exponent)
    check_ndim("matrix", matrix, "rows, columns")
    matrix = matrix.astype(mx.float32) if matrix.dtype != mx.float32 else matrix
    check_finite(matrix, "spectral sharpening input")

    if exponent == 1.0:
        return matrix
    largest_magnitude = mx.maximum(mx.max(matrix), -mx.min(matrix)).item()
    if largest_magnitude == 0.0:
        return mx.zeros(matrix.shape, dtype=mx.float32)

    truncated = sharpen_truncated(matrix, exponent)
    if truncated is not None:
        return truncated.values
    return sharpen_exact(matrix, exponent, largest_magnitude)


def sharpen_exact(matrix: mx.array, exponent: float, largest_magnitude: float) -> mx.array:
    """Sharpen float32 matrix [m, n] through its full SVD, given its largest magnitude.

    MLX has no thin SVD: it returns the full max(m, n) x max(m, n) factor. For a matrix more
    than twice as tall as wide, a QR first reduces the problem to the small factor R:
    matrix = Q R and R = U S V^T give matrix = (Q U) S V^T. A square matrix goes to the SVD
    directly, which peaks at about 6 times its size in MLX 0.32 (QR first would add 2 more).
    """
    # The SVD runs on a scaled copy only where the magnitudes could overflow or underflow the
    # QR norms, because the copy costs one more map of memory.
    scale = 1.0
    if not SAFE_MAGNITUDE_RANGE[0] <= largest_magnitude <= SAFE_MAGNITUDE_RANGE[1]:
        scale = largest_magnitude
        matrix = matrix / scale
    rows, columns = matrix.shape
    transposed = rows < columns
    tall = matrix.T if transposed else matrix  # [M, k] with M >= k
    size = tall.shape[1]

    if tall.shape[0] > 2 * size:
        # mx.linalg.qr returns the reduced factors for a tall input: Q [M, k], R [k, k].
        q, r = mx.linalg.qr(tall, stream=mx.cpu)
        u, singular_values, vt = mx.linalg.svd(r, stream=mx.cpu)  # [k, k], [k] descending, [k, k]
        del r
    else:
        q = None
        u, singular_values, vt = mx.linalg.svd(tall, stream=mx.cpu)  # [M, M], [k] descending, [k, k]
        u = u[:, :size]  # [M, k]
    # Evaluating the factors first frees the SVD's workspace before the reconstruction allocates:
    # left lazy, the square case peaked at 8 map sizes instead of 6.
    mx.eval(u, singular_values, vt)

    largest = mx.maximum(singular_values[0], DIVISOR_FLOOR)
    sharpened = largest * (singular_values / largest) ** exponent
    result = (u * sharpened[None, :]) @ vt  # [M or k, k]
    if q is not None:
        result = q @ result  # [M, k]
    if scale != 1.0:
        result = result * scale
    return result.T if transposed else result


def sharpen_spatial(grid: mx.array, exponent: float) -> mx.array:
    """Sharpen one map grid [h, w] as an h x w matrix: [h, w]."""
    check_ndim("grid", grid, "grid height, grid width")
    return sharpen_singular_values(grid, exponent)


def sharpen_consensus(stack: mx.array, exponent: float) -> mx.array:
    """Sharpen the stack [N, P] of per-(layer, step) maps as one matrix, then average: [P]."""
    check_ndim("stack", stack, "layer-steps, patches")
    sharpened = sharpen_singular_values(stack, exponent)  # [N, P]
    return mx.mean(sharpened, axis=0)  # [P], mean over (layer, step) pairs
