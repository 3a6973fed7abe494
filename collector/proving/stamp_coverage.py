"""Which authorities vouched for which checkpoint, and whether k of n did.

One authority's timestamp is that authority's word; the config's `at_least` says how many
independent ones a checkpoint needs before its time counts. `verify`, `status` and the
report all say it the same way, from the stamps `timestamping.stored_timestamps` re-checked:
per checkpoint, who stamped it and when, then whether the latest time-stamped checkpoint
has its quorum (and, when not, the latest one that has).

Authorities are told apart by URL: two TSAs may well carry the same name in their tokens,
and one TSA reached at two URLs is still one authority's word only if the user lists it
twice, which the config refuses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from collector.config.model import Config
from collector.evidence.store import EvidenceStore
from collector.proving.timestamping import StoredTimestamp, roots_by_url, stored_timestamps


@dataclass(frozen=True)
class CheckpointStamps:
    """The stamps that check out for one checkpoint, in the order they were stored."""

    checkpoint_seq: int
    size: int
    stamps: tuple[StoredTimestamp, ...]

    @property
    def authorities(self) -> list[str]:
        """The distinct authorities (by URL) that stamped this checkpoint."""
        return list(dict.fromkeys(stamp.url for stamp in self.stamps))

    def as_json(self) -> dict[str, object]:
        return {
            "checkpoint_seq": self.checkpoint_seq,
            "size": self.size,
            "authorities": len(self.authorities),
            "vouched_by": "; ".join(stamp_line(stamp) for stamp in self.stamps),
            "stamps": [
                {
                    "url": s.url,
                    "tsa": s.tsa,
                    "gen_time": s.gen_time,
                    "roots_checked": s.roots_checked,
                }
                for s in self.stamps
            ],
        }


@dataclass(frozen=True)
class Quorum:
    """Whether the latest time-stamped checkpoint was stamped by `at_least` of `of`."""

    at_least: int
    of: int
    latest: CheckpointStamps | None
    """The latest checkpoint with any stamp that checks out."""
    latest_met: CheckpointStamps | None
    """The latest checkpoint stamped by at least `at_least` authorities."""

    @property
    def met(self) -> bool:
        return self.latest is not None and self.latest is self.latest_met

    def line(self) -> str:
        """One line for a person: what counts as time-stamped, and whether it holds."""
        rule = f"{self.at_least} of {self.of} authorities required"
        if self.latest is None:
            return f"trusted time: no checkpoint time-stamped yet ({rule})"
        count = len(self.latest.authorities)
        head = (
            f"trusted time: checkpoint of {self.latest.size} records stamped by {count}"
            f" of {self.of} authorities ({rule}): "
        )
        if self.met:
            return head + "met"
        if self.latest_met is None:
            return head + "NOT met, by no checkpoint yet"
        return head + f"NOT met; last met by the checkpoint of {self.latest_met.size} records"

    def as_json(self) -> dict[str, object]:
        return {
            "at_least": self.at_least,
            "of": self.of,
            "met": self.met,
            "latest_size": None if self.latest is None else self.latest.size,
            "latest_authorities": 0 if self.latest is None else len(self.latest.authorities),
            "latest_met_size": None if self.latest_met is None else self.latest_met.size,
        }


def by_checkpoint(stamps: Sequence[StoredTimestamp]) -> list[CheckpointStamps]:
    """The stamps that check out, grouped by the checkpoint they are for, oldest first."""
    groups: dict[int, list[StoredTimestamp]] = {}
    sizes: dict[int, int] = {}
    for stamp in stamps:
        if stamp.problem is None and stamp.checkpoint_seq is not None:
            groups.setdefault(stamp.checkpoint_seq, []).append(stamp)
            sizes[stamp.checkpoint_seq] = stamp.size
    return [CheckpointStamps(seq, sizes[seq], tuple(groups[seq])) for seq in sorted(groups)]


def quorum(groups: Sequence[CheckpointStamps], at_least: int, of: int) -> Quorum:
    """The quorum of `groups` (from `by_checkpoint`) against `at_least` of `of`."""
    latest = groups[-1] if groups else None
    met = [group for group in groups if len(group.authorities) >= at_least]
    return Quorum(at_least, of, latest, met[-1] if met else None)


def stamp_line(stamp: StoredTimestamp) -> str:
    """`CN=... (url) at 2026-...`: who vouched and when, for one stamp."""
    who = f"{stamp.tsa} ({stamp.url})" if stamp.tsa else stamp.url
    return f"{who} at {stamp.gen_time}"


def checkpoint_line(group: CheckpointStamps) -> str:
    """One line per checkpoint: its size and every authority that stamped it."""
    stamped = "; ".join(stamp_line(stamp) for stamp in group.stamps)
    count = len(group.authorities)
    head = f"checkpoint of {group.size} records (seq {group.checkpoint_seq})"
    return f"{head} stamped by {count}: {stamped}"


def trusted_time_lines(config: Config) -> list[str]:
    """For `status` and the web view: whether the quorum holds, then which authorities
    stamped the latest three time-stamped checkpoints. Empty without `timestamping:` or a
    store yet."""
    stamping = config.checkpoints.timestamping
    if stamping is None or not config.store.is_file():
        return []
    roots: dict[str, bytes] = {}
    with contextlib.suppress(OSError):  # `verify` names an unreadable roots file
        roots = roots_by_url(stamping)
    with EvidenceStore.open(config.store, readonly=True) as store:
        groups = by_checkpoint(stored_timestamps(store, roots=roots))
    held = quorum(groups, stamping.quorum, len(stamping.sources))
    return [held.line(), *(f"  {checkpoint_line(group)}" for group in groups[-3:])]
