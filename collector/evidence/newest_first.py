"""Records newest first across blocks and raw rows, decoding only the blocks needed.

"The latest records of a target" is asked of a long history; the raw rows come from
SQLite's (target, ts_ns) index already in order, and a block is decoded only when its
newest record could come before the best candidate so far, so a reader that stops after
a few records of today touches no block of last month.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar


class _Dated(Protocol):
    @property
    def seq(self) -> int: ...
    @property
    def record(self) -> dict[str, object]: ...


class _Spanned(Protocol):
    @property
    def max_ts_ns(self) -> int: ...


R = TypeVar("R", bound=_Dated)
B = TypeVar("B", bound=_Spanned)


def _key(item: _Dated) -> tuple[int, int]:
    ts = item.record.get("ts_ns")
    return (-ts if isinstance(ts, int) else 0), -item.seq


def newest_first_merge(
    raw: Iterable[R], blocks: Iterable[B], decoded: Callable[[B], Iterable[R]]
) -> Iterator[R]:
    """`raw` (already newest first) merged with the blocks' records, by (ts_ns, seq)
    descending; `blocks` come in descending seq order."""
    pending = sorted(blocks, key=lambda b: -b.max_ts_ns)
    heap: list[tuple[tuple[int, int], int, R, Iterator[R]]] = []
    tiebreak = 0

    def push(source: Iterator[R]) -> None:
        nonlocal tiebreak
        for item in source:
            heapq.heappush(heap, (_key(item), tiebreak, item, source))
            tiebreak += 1
            return

    push(iter(raw))
    index = 0
    while True:
        while index < len(pending) and (not heap or -pending[index].max_ts_ns <= heap[0][0][0]):
            block = pending[index]
            index += 1
            push(iter(sorted(decoded(block), key=_key)))
        if not heap:
            return
        _, _, item, source = heapq.heappop(heap)
        yield item
        push(source)
