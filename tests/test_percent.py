"""Uptime percents are cut, never rounded up: 100.000% only when nothing counted."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.core.percent import cut_percent


@pytest.mark.parametrize(
    ("ratio", "shown"),
    [
        (0.9999963, "99.999%"),
        (0.9946092, "99.460%"),
        (0.995, "99.500%"),
        (0.995732, "99.573%"),
        (1.0, "100.000%"),
        (0.0, "0.000%"),
        (1 - 14_400 / 2_671_200, "99.460%"),
    ],
)
def test_cut_not_rounded(ratio: float, shown: str) -> None:
    assert cut_percent(ratio) == shown


@given(st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
def test_below_one_never_reads_as_a_full_hundred(ratio: float) -> None:
    shown = cut_percent(ratio)
    assert shown != "100.000%"
    assert float(shown.rstrip("%")) <= ratio * 100 + 1e-9
