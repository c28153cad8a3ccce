"""Truncated spectral sharpening with a certified error bound, for large maps with exponent > 1.

A randomized range finder with power (subspace) iterations returns an orthonormal basis Q [m, k] of the dominant column space of M. The approximation
M_k = Q Q^T M is sharpened exactly through the SVD of the small factor Q^T M [k, n].

Certificate. Write f_c(s) = c * s ** p with c = s_1 ** (1 - p), so that the exact result is
f_c(M) = U f_c(S) V^T. For symmetric A and B and any f with Lipschitz constant L,
||f(A) - f(B)||_F <= L ||A - B||_F (expand both in eigenvectors). Applied to the symmetric
embeddings [[0, X], [X^T, 0]], whose eigenvalues are +-s_i, this gives for singular value
functions ||f_c(M) - f_c(M_k)||_F <= L ||M - M_k||_F, where L = p * c * a ** (p - 1) on
[0, a] and a = max(s_1(M), s_1(M_k)). Weyl's inequality, |s_1(M) - s_1(M_k)| <= r with
r = ||M - M_k||_F, bounds a and the change of c when s_1(M_k) replaces s_1(M). Since
||f_c(M)||_F >= s_1(M), every term is a computable multiple of r / s_1(M_k); see
`relative_error_bound`.

The bound covers the truncation only. Float32 rounding in the factorizations adds an error of
the same size as in a full float32 SVD (about 1e-6 relative in the tests), which is why
`TRUNCATION_TOLERANCE` is set well below the 1e-4 that the tests allow in total.
"""

import math
from dataclasses import dataclass

import mlx.core as mx

# Certified relative Frobenius error of the truncation that the truncated result may carry.
TRUNCATION_TOLERANCE = 2e-5
# Side lengths below this use the exact SVD, which is cheap enough there.
MIN_TRUNCATED_SIDE = 256
# Ranks tried: FIRST_RANK, then RANK_GROWTH times the previous one, up to min(m, n) //
# MAX_RANK_DIVISOR, so that each factor stays below a quarter of the map's size.
FIRST_RANK = 64
RANK_GROWTH = 4
MAX_RANK_DIVISOR = 4
POWER_ITERATIONS = 2
# A residual above this fraction of s_1 means a flat spectrum, such as noise, where a larger
# rank is unlikely to pass and the exact SVD is cheaper than more tries.
GIVE_UP_RESIDUAL = 0.25
RESIDUAL_ROW_BLOCK = 256
# Entries whose largest magnitude lies outside this range are scaled before the SVD, so that
# the products and squared norms below stay within float32 range.
SAFE_MAGNITUDE_RANGE = (1e-10, 1e10)
RANDOM_SEED = 0


@dataclass(frozen=True)
class TruncatedSharpening:
    """Sharpened map from a rank-`rank` approximation, and its certified relative error bound."""

    values: mx.array  # [m, n] float32
    rank: int
    error_bound: float  # upper bound on ||values - exact||_F / ||exact||_F, before float32 rounding


def sharpen_truncated(matrix: mx.array, exponent: float) -> TruncatedSharpening | None:
    """Sharpen float32 matrix [m, n] through adaptive truncated SVDs, or return None.

    Returns None, so that the caller runs the exact SVD, when the exponent is at most 1 (the
    map s -> s ** p is not Lipschitz at 0 then), when the matrix is small or has extreme
    magnitudes, or when no rank up to min(m, n) // 4 certifies TRUNCATION_TOLERANCE.
    """
    rows, columns = matrix.shape
    smallest_side = min(rows, columns)
    if exponent <= 1.0 or smallest_side < MIN_TRUNCATED_SIDE:
        return None
    largest_magnitude = mx.maximum(mx.max(matrix), -mx.min(matrix)).item()
    if not SAFE_MAGNITUDE_RANGE[0] <= largest_magnitude <= SAFE_MAGNITUDE_RANGE[1]:
        return None

    key = mx.random.key(RANDOM_SEED)
    for rank in rank_schedule(smallest_side):
        basis = range_basis(matrix, rank, key)  # [m, rank]
        projected = basis.T @ matrix  # [rank, n]
        mx.eval(projected)
        residual = residual_norm(matrix, basis, projected)
        left, singular_values, right = thin_svd_of_wide(basis, projected)
        del basis, projected
        largest = singular_values[0].item()
        if largest == 0.0 or residual > GIVE_UP_RESIDUAL * largest:
            return None

        sharpened = largest * (singular_values / largest) ** exponent  # [rank]
        sharpened_norm = math.sqrt(mx.sum(sharpened * sharpened).item())
        bound = relative_error_bound(residual, largest, sharpened_norm, exponent)
        if bound <= TRUNCATION_TOLERANCE:
            values = (left * sharpened[None, :]) @ right.T  # [m, n]
            return TruncatedSharpening(values=values, rank=rank, error_bound=bound)
    return None


def rank_schedule(smallest_side: int) -> list[int]:
    """Return the ranks to try for a matrix whose smaller side is smallest_side."""
    max_rank = smallest_side // MAX_RANK_DIVISOR
    ranks = []
    rank = FIRST_RANK
    while rank < max_rank:
        ranks.append(rank)
        rank *= RANK_GROWTH
    ranks.append(max_rank)
    return ranks


def range_basis(matrix: mx.array, rank: int, key: mx.array) -> mx.array:
    """Return an orthonormal basis [m, rank] of the dominant column space of matrix [m, n].

    Power iterations (M M^T)^q M Omega sharpen the decay of the sampled spectrum, and each
    product is orthonormalized so that float32 does not lose the weaker directions.
    """
    columns = matrix.shape[1]
    sketch = mx.random.normal((columns, rank), key=key)  # [n, rank] Gaussian test matrix
    basis, _ = mx.linalg.qr(matrix @ sketch, stream=mx.cpu)  # [m, rank]
    for _ in range(POWER_ITERATIONS):
        row_basis, _ = mx.linalg.qr(matrix.T @ basis, stream=mx.cpu)  # [n, rank]
        basis, _ = mx.linalg.qr(matrix @ row_basis, stream=mx.cpu)  # [m, rank]
        mx.eval(basis)
    return basis


def residual_norm(matrix: mx.array, basis: mx.array, projected: mx.array) -> float:
    """Return ||matrix - basis @ projected||_F, computed in row blocks to bound the memory."""
    total = 0.0
    for start in range(0, matrix.shape[0], RESIDUAL_ROW_BLOCK):
        stop = start + RESIDUAL_ROW_BLOCK
        block = matrix[start:stop] - basis[start:stop] @ projected  # [block rows, n]
        total += mx.sum(block * block).item()
    return math.sqrt(total)


def thin_svd_of_wide(basis: mx.array, projected: mx.array) -> tuple[mx.array, mx.array, mx.array]:
    """Return L [m, k], S [k] descending and R [n, k] with basis @ projected = L diag(S) R^T.

    projected [k, n] is wide, so a QR of its transpose leaves a k x k SVD: projected^T = P T
    and T = X S Y^T give projected = Y S (P X)^T.
    """
    orthonormal, triangular = mx.linalg.qr(projected.T, stream=mx.cpu)  # [n, k], [k, k]
    x, singular_values, yt = mx.linalg.svd(triangular, stream=mx.cpu)  # [k, k], [k], [k, k]
    left = basis @ yt.T  # [m, k]
    right = orthonormal @ x  # [n, k]
    mx.eval(left, singular_values, right)
    return left, singular_values, right


def relative_error_bound(residual: float, largest: float, sharpened_norm: float, exponent: float) -> float:
    """Bound ||f(M_k) - f(M)||_F / ||f(M)||_F for exponent > 1 (see the module docstring).

    residual is r = ||M - M_k||_F, largest is t = s_1(M_k) and sharpened_norm is ||f(M_k)||_F,
    where f uses t in place of s_1(M). With s_1(M) in [t - r, t + r]:
    ||f_c(M) - f_c(M_k)||_F <= p ((t + r) / (t - r)) ** (p - 1) r, because c a ** (p - 1) <=
    ((t + r) / (t - r)) ** (p - 1), and replacing c by t ** (1 - p) changes f(M_k) by at most
    the factor (t / (t - r)) ** (p - 1) - 1. The sum is divided by ||f_c(M)||_F >= t - r.
    """
    if residual >= 0.5 * largest:
        return math.inf
    lower = largest - residual
    truncation = exponent * ((largest + residual) / lower) ** (exponent - 1.0) * residual
    normalization = ((largest / lower) ** (exponent - 1.0) - 1.0) * sharpened_norm
    return (truncation + normalization) / lower
