"""The contract's measuring granules: whole minutes (or 5-minute intervals) that are down
or up as a whole, as Google's "Downtime Period" of one or more consecutive minutes is.

Granules are cut from the period's start, and the observation window's margins are cut
on the same grid, so an incident crossing the period's edge is measured the same way on
both sides of it. A granule's samples are the seconds they cover (a sample covers the time
to the next one, reports/sla/attribution.py): under `all` a granule is down when every
covered second is down, under `any` when one is; a granule no sample covers is no data,
and every other granule is up, all of it, seconds without samples included.

Maintenance seconds stay what they are and do not vote: a granule half in a window is
judged on its other half. A down granule's seconds take the state most of its down seconds
have (local, unconfirmed or provider; ties go to the one that spares the provider), so the
granule is attributed as its failures are.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np

from reports.sla.attribution import (
    LOCAL,
    MAINTENANCE,
    NO_DATA,
    PROVIDER,
    UNCONFIRMED,
    UP,
    Observation,
)

_DOWN_STATES = (LOCAL, UNCONFIRMED, PROVIDER)
"""The states a down second can have outside maintenance, in the order ties go."""


def granule_cuts(n: int, first_cut: int, granule: int) -> np.ndarray:
    """Where the granules of an n-second window begin: every `granule` seconds from
    `first_cut` (the period's start as a window offset), plus 0 for a partial first one."""
    phase = first_cut % granule
    cuts = np.arange(phase, n, granule, dtype=np.int64)
    return cuts if phase == 0 else np.concatenate([[0], cuts])


def apply_granules(
    obs: Observation, granule: int, down_when: Literal["all", "any"], period_start_s: int
) -> Observation:
    """The observation with each granule down or up as a whole."""
    n = obs.state.size
    if n == 0:
        return obs
    cuts = granule_cuts(n, period_start_s - obs.w0, granule)
    lengths = np.diff(np.append(cuts, n))
    voting = ~obs.maintenance
    down = obs.down_any & voting
    down_count = np.add.reduceat(down, cuts, dtype=np.int64)
    data_count = np.add.reduceat(obs.has_data & voting, cuts, dtype=np.int64)
    is_down = down_count > 0 if down_when == "any" else (down_count == data_count)
    is_down &= data_count > 0
    by_state = np.stack(
        [np.add.reduceat(down & (obs.state == c), cuts, dtype=np.int64) for c in _DOWN_STATES],
        axis=1,
    )
    down_state = np.array(_DOWN_STATES, np.int8)[np.argmax(by_state, axis=1)]
    granule_state = np.where(is_down, down_state, np.where(data_count > 0, UP, NO_DATA))
    state = np.repeat(granule_state.astype(np.int8), lengths)
    np.putmask(state, obs.maintenance, MAINTENANCE)
    down_any = np.repeat(is_down, lengths) | (obs.down_any & obs.maintenance)
    return replace(obs, state=state, down_any=down_any)
