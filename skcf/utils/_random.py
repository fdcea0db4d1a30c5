"""Counter-based random numbers keyed by row content.

Gradient-free searches draw many random points per row. Keying each row's
stream by (seed, the row's values) — not by its position or chunk — makes the
result of a row independent of batch size, row order and which other rows are
in the call (sklearn's subset and sample-order invariance), while every draw
stays one vectorised NumPy expression (SplitMix64 finaliser on counters).
"""

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z):
    """SplitMix64 finaliser, element-wise on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def row_keys(X, seed):
    """One 64-bit key per row from ``seed`` and the row's float64 values."""
    bits = np.ascontiguousarray(X, dtype=np.float64).view(np.uint64)
    with np.errstate(over="ignore"):
        start = _mix(np.array([seed], dtype=np.uint64) * _GOLDEN + np.uint64(1))
        key = np.repeat(start, bits.shape[0])
        for j in range(bits.shape[1]):  # a loop over columns, vectorised over rows
            key = _mix(key ^ (bits[:, j] + _GOLDEN * np.uint64(j + 1)))
    return key


def uniform(keys, shape, stream=0):
    """Uniform ``[0, 1)`` floats of shape ``(len(keys), *shape)``."""
    count = int(np.prod(shape))
    counter = np.arange(count, dtype=np.uint64) + np.uint64(stream) * np.uint64(1 << 40)
    with np.errstate(over="ignore"):
        z = _mix(keys[:, None] ^ _mix(counter * _GOLDEN + _GOLDEN)[None, :])
    return ((z >> np.uint64(11)).astype(np.float64) * 2.0**-53).reshape(
        len(keys), *shape
    )


def normal(keys, shape, stream=0):
    """Standard normal floats (Box-Muller) of shape ``(len(keys), *shape)``."""
    u1 = uniform(keys, shape, 2 * stream)
    u2 = uniform(keys, shape, 2 * stream + 1)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)
