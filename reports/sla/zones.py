"""An SLA over several targets (`sla.zones`): the group is down only when enough members are.

Multi-zone and region-level SLAs (AWS EC2, Google's Instances in Multiple Zones, Alibaba's
multi-zone ECS) count a second against the provider only when the customer's instances in
several zones are all unreachable at once: one zone failing is what the second zone was
bought for. Each member is observed exactly as a lone target would be (its own probes and
`downtime.probes` rule, the config's controls and vantages, the group's maintenance), then
the group's second is, for `n` members and `down_when` k (`all` is k = n):

- down when at least k members are down;
- up when more than n - k members are up (then k of them can no longer be down);
- no data otherwise (too few members have data to tell).

A down second is the provider's when at least k members are down against the provider;
otherwise it is local when some down member's failure is local (the controls failed: the
measuring network, not the zones), else unconfirmed. Maintenance covers the whole group.
Incidents, granules, `min_duration`, ticket start and credits then apply to this combined
timeline as to a lone target's; each incident names the members down during it and cites
their failing samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from collector.config.model import Target
from collector.config.sla_terms import SlaGroup
from reports.sla.attribution import (
    LOCAL,
    MAINTENANCE,
    NO_DATA,
    PROVIDER,
    UNCONFIRMED,
    UP,
    Observation,
    PreparedSamples,
    observe,
)
from reports.sla.incidents import Incidents, segment_counts


@dataclass(frozen=True)
class Member:
    """One target of the group and how its own downtime is judged."""

    name: str
    probes: list[str] | None
    rule_any: bool


@dataclass(frozen=True)
class ZoneObservation:
    """The group's combined window and each member's own, over the same seconds."""

    combined: Observation
    members: dict[str, Observation]


def group_members(group: SlaGroup, targets: Sequence[Target]) -> list[Member]:
    """The group's members with their own downtime rules; a member whose Target is not
    given, or that has no `sla`, is down when any of its probes fails."""
    known = {target.name: target for target in targets}
    found = []
    for name in group.targets:
        terms = known[name].sla if name in known else None
        rule = "any" if terms is None else terms.downtime.probes
        found.append(Member(name, rule if isinstance(rule, list) else None, rule == "any"))
    return found


def needed(group: SlaGroup) -> int:
    """How many members must be down at once: k, or all of them."""
    return len(group.targets) if group.down_when == "all" else group.down_when


def observe_zones(
    prepared: PreparedSamples,
    members: Sequence[Member],
    need: int,
    *,
    controls: Sequence[str],
    confirm_vantages: int,
    windows: np.ndarray,
    w0: int,
    w1: int,
) -> ZoneObservation:
    """Observe each member over [w0, w1) and combine them by the rule of the module."""
    seen = {
        m.name: observe(prepared, target=m.name, probes=m.probes, rule_any=m.rule_any,
                        controls=controls, confirm_vantages=confirm_vantages,
                        windows=windows, w0=w0, w1=w1)
        for m in members
    }  # fmt: skip
    n = w1 - w0
    down, up, provider = (np.zeros(n, np.int64) for _ in range(3))
    local = np.zeros(n, bool)
    for obs in seen.values():
        down += obs.down_any
        up += obs.state == UP
        provider += obs.state == PROVIDER
        local |= obs.down_any & (obs.state == LOCAL)
    group_down = down >= need
    group_up = ~group_down & (up > len(members) - need)
    state = np.full(n, NO_DATA, np.int8)
    np.putmask(state, group_up, UP)
    np.putmask(state, group_down, np.where(local, LOCAL, UNCONFIRMED).astype(np.int8))
    np.putmask(state, group_down & (provider >= need), PROVIDER)
    maintenance = next(iter(seen.values())).maintenance
    np.putmask(state, maintenance, MAINTENANCE)
    by_vantage: dict[str, np.ndarray] = {}
    for obs in seen.values():
        for vantage, mine in obs.down_by_vantage.items():
            by_vantage[vantage] = by_vantage.get(vantage, np.zeros(n, bool)) | mine
    combined = Observation(
        w0=w0,
        state=state,
        down_any=group_down,
        maintenance=maintenance,
        down_by_vantage={v: group_down & mine for v, mine in by_vantage.items()},
        has_data=group_down | group_up,
    )
    return ZoneObservation(combined, seen)


def members_down(
    zones: ZoneObservation, incidents: Incidents, combined: Observation
) -> list[list[str]]:
    """Per incident: the members down during some of its seconds, in the group's order."""
    shift = combined.w0 - next(iter(zones.members.values())).w0
    starts, ends = incidents.starts + shift, incidents.ends + shift
    hits = {
        name: segment_counts(obs.down_any, starts, ends) > 0 if starts.size else np.zeros(0, bool)
        for name, obs in zones.members.items()
    }
    return [[name for name, hit in hits.items() if hit[i]] for i in range(starts.size)]


def merged_incidents(per_member: Mapping[str, Incidents], down: list[list[str]]) -> Incidents:
    """The group's incidents (the same runs whichever member they were cut for), each with
    the failing probes, error counts and cited samples of the members down during it."""
    base = next(iter(per_member.values()))
    listed = []
    for i, incident in enumerate(base.listed):
        mine = [per_member[name].listed[i] for name in down[i]]
        errors: dict[str, int] = {}
        for one in mine:
            for error, count in one.errors.items():
                errors[error] = errors.get(error, 0) + count
        fields: dict[str, Any] = {
            "probes": sorted({probe for one in mine for probe in one.probes}),
            "errors": dict(sorted(errors.items())),
            "evidence_seqs": [seq for one in mine for seq in one.evidence_seqs],
            "evidence_vantages": [v for one in mine for v in one.evidence_vantages],
            "zones_down": down[i],
        }
        listed.append(msgspec.structs.replace(incident, **fields))
    return Incidents(listed, base.starts, base.ends, base.counted, base.counted_starts)


def zones_document(
    group: SlaGroup, zones: ZoneObservation, period_s: tuple[int, int]
) -> dict[str, Any]:
    """summary.json's `zones`: the rule, and each member's own downtime and no-data seconds
    in the period (its provider seconds, before `min_duration` or granules)."""
    per_target = []
    for name, obs in zones.members.items():
        inside = obs.state[period_s[0] - obs.w0 : period_s[1] - obs.w0]
        per_target.append(
            {
                "target": name,
                "downtime_seconds": int(np.count_nonzero(inside == PROVIDER)),
                "no_data_seconds": int(np.count_nonzero(inside == NO_DATA)),
            }
        )
    return {"targets": list(group.targets), "down_when": group.down_when, "per_target": per_target}
