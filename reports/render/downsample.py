"""Per-pixel min/max downsampling, so a year of one-minute latency stays drawable.

A year of one-minute samples is 525,600 points per probe; a chart is about a thousand pixels
wide. Drawing every point costs seconds and megabytes and shows nothing more: within one pixel
column the eye sees only the lowest and the highest value. `minmax_downsample` keeps exactly
those two points of every column (bucket of equal width along x), in their original order, so
the drawn envelope, spikes included, is the same as the full series'.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def minmax_downsample(x: ArrayLike, y: ArrayLike, buckets: int) -> tuple[FloatArray, FloatArray]:
    """Keep the minimum and maximum point of each of `buckets` equal-width x ranges.

    Points with a NaN in x or y are dropped first. The result is sorted by x, holds at most
    `2 * buckets` points, and every bucket's min and max y survive; series already that
    small come back whole (sorted, NaN-free).
    """
    if buckets < 1:
        raise ValueError(f"buckets must be at least 1, got {buckets}")
    xs = np.asarray(x, dtype=np.float64).ravel()
    ys = np.asarray(y, dtype=np.float64).ravel()
    if xs.shape != ys.shape:
        raise ValueError(f"x and y differ in length: {xs.size} != {ys.size}")
    finite = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[finite], ys[finite]
    if xs.size > 1 and np.any(np.diff(xs) < 0):
        order = np.argsort(xs, kind="stable")
        xs, ys = xs[order], ys[order]
    if xs.size <= 2 * buckets:
        return xs, ys
    bucket = bucket_index(xs, buckets)
    # Sorting by (bucket, y) puts each bucket's minimum first and its maximum last.
    by_value = np.lexsort((ys, bucket))
    sorted_bucket = bucket[by_value]
    firsts = np.flatnonzero(np.r_[True, sorted_bucket[1:] != sorted_bucket[:-1]])
    lasts = np.r_[firsts[1:] - 1, sorted_bucket.size - 1]
    keep = np.unique(np.concatenate((by_value[firsts], by_value[lasts])))
    return xs[keep], ys[keep]


def bucket_index(xs: FloatArray, buckets: int) -> NDArray[np.int64]:
    """The equal-width bucket (0 .. buckets-1) of each x; the maximum falls in the last one."""
    low, high = float(xs[0]), float(xs[-1])
    if high <= low:
        return np.zeros(xs.size, dtype=np.int64)
    scaled = np.floor((xs - low) / (high - low) * buckets).astype(np.int64)
    return np.clip(scaled, 0, buckets - 1)


def break_gaps(x: FloatArray, y: FloatArray, max_gap: float) -> tuple[FloatArray, FloatArray]:
    """Insert a NaN point wherever consecutive x are more than `max_gap` apart.

    Matplotlib stops a line at NaN, so a stretch without data shows as a gap instead of a
    straight segment that would pretend the latency was measured in between.
    """
    if x.size < 2:
        return x, y
    gaps = np.flatnonzero(np.diff(x) > max_gap) + 1
    if gaps.size == 0:
        return x, y
    return np.insert(x, gaps, np.nan), np.insert(y, gaps, np.nan)
