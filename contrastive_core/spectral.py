"""Spectral sharpening: raise the singular values of a map (or a stack of maps) to a power."""

import mlx.core as mx

from .errors import check_finite, check_ndim, check_positive

# Lower bound for divisors, so an all-zero matrix (largest singular value 0) stays zero without NaN.
DIVISOR_FLOOR = 1e-30


def sharpen_singular_values(matrix: mx.array, exponent: float) -> mx.array:
    """Map each singular value s_i of matrix [m, n] to s_1 * (s_i / s_1) ** exponent: [m, n].

    MLX has no thin SVD, so a QR of the tall orientation reduces the problem to the small
    min(m, n) x min(m, n) factor R: matrix = Q R and R = U S V^T give matrix = (Q U) S V^T.
    No max(m, n) x max(m, n) array is built. Linear algebra runs on the CPU stream in float32,
    because MLX implements QR and SVD only there and only for float32 and float64.
    """
    exponent = check_positive("exponent", exponent)
    check_ndim("matrix", matrix, "rows, columns")
    matrix = matrix.astype(mx.float32)
    check_finite(matrix, "spectral sharpening input")

    # Divide by the largest magnitude so that the QR norms cannot overflow; scale back at the end.
    scale = mx.maximum(mx.max(mx.abs(matrix)), DIVISOR_FLOOR)
    rows, columns = matrix.shape
    transposed = rows < columns
    tall = (matrix.T if transposed else matrix) / scale  # [M, k] with M >= k

    # mx.linalg.qr returns the reduced factors for a tall input: Q [M, k], R [k, k].
    q, r = mx.linalg.qr(tall, stream=mx.cpu)
    u, singular_values, vt = mx.linalg.svd(r, stream=mx.cpu)  # [k, k], [k] descending, [k, k]

    largest = mx.maximum(singular_values[0], DIVISOR_FLOOR)
    sharpened = largest * (singular_values / largest) ** exponent
    r_sharpened = (u * sharpened[None, :]) @ vt  # [k, k]
    result = (q @ r_sharpened) * scale  # [M, k]
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
