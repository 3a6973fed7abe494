"""A store read in seq ranges, in worker processes, finds what the whole-store check finds.

The report verifies a big store by checking consecutive seq ranges in parallel, each range
starting from the stored hash of the row before it. These tests tamper with real store
files the way tests/test_store_tamper.py does and hold the ranged check, and the report's
reader built on it, to the reference `EvidenceStore.verify` wording and seq.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.evidence.records import Stamp, collector_record, note_record
from collector.evidence.store import EvidenceStore
from reports.sources import store_scan
from reports.sources.store_scan import SampleFilter, read_store
from reports.sources.stores import sample_frame
from tests.rig.stores import fill, raw_connection
from tests.test_sources import HOUR, T0, S, sample
from tests.test_store_tamper import TAMPERS

SIZE = 30
EVERYTHING = SampleFilter(0, 2**62, None, {})


def tampered(path: Path, kind: str, k: int, size: int = SIZE) -> Path:
    with EvidenceStore.create(path) as store:
        fill(store, size)
    with raw_connection(path, drop_triggers=True) as conn:
        TAMPERS[kind](conn, k)
    return path


def ranged_first_break(store: EvidenceStore, cuts: list[int]) -> tuple[int, str] | None:
    """The first break of consecutive ranges split at `cuts`, each checked on its own."""
    bounds = list(zip([None, *cuts], [*cuts, None], strict=True))
    found = [store.check_range(lo, hi) for lo, hi in bounds]
    return next((problem for problem in found if problem is not None), None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(sorted(TAMPERS)),
    k=st.integers(1, SIZE - 1),
    cuts=st.lists(st.integers(-2, SIZE + 3), max_size=4).map(sorted),
)
def test_ranges_find_the_reference_break(kind: str, k: int, cuts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as where:
        path = tampered(Path(where) / "evidence.db", kind, k)
        with EvidenceStore.open(path, readonly=True) as store:
            reference = store.verify()
            assert not reference.ok
            assert ranged_first_break(store, cuts) == (
                reference.first_bad_seq,
                reference.problem,
            )


def test_ranges_of_a_clean_store_all_verify(fresh_store: EvidenceStore) -> None:
    fill(fresh_store, SIZE)
    assert ranged_first_break(fresh_store, [1, 2, 15, 30, 31]) is None


def records() -> list[dict[str, object]]:
    """Probes of two hosts, a note and a collector event inside the window, one outside."""
    out = [sample("office", "vps1", "ssh", T0 + i * 10 * S, ok=i % 7 != 3) for i in range(40)]
    out += [sample("office", "resolver", "ping", T0 + i * 30 * S, role="control") for i in range(9)]
    out += [sample("office", "vps2", "ssh", T0 + i * 10 * S) for i in range(5)]
    out.append(note_record(Stamp(T0 + S, 1), "office", "vps1", "ticket opened", "48213"))
    out.append(collector_record("heartbeat", Stamp(T0 + 2 * S, 1), "office"))
    out.append(collector_record("heartbeat", Stamp(T0 + 2 * HOUR, 1), "office"))
    return out


@pytest.fixture
def workers_for_small_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split even a small store into ranges, so real worker processes check it."""
    monkeypatch.setattr(store_scan, "RANGE_ROWS", 10)


@pytest.mark.usefixtures("workers_for_small_stores")
def test_workers_read_what_the_indexes_read(tmp_path: Path) -> None:
    path = tmp_path / "evidence.db"
    with EvidenceStore.create(path) as store:
        store.append(records())
    wanted = SampleFilter(T0, T0 + HOUR, ("vps1", "resolver"), {}, "vps1")
    with EvidenceStore.open(path, readonly=True) as store:
        checked = read_store(store, wanted, workers=3)
        indexed = read_store(store, wanted, verify=False)
    assert len(checked.parts) == 3 and checked.verification["ok"] is True
    assert checked.verification["count"] == len(records())
    frames = [sample_frame(read.parts) for read in (checked, indexed)]
    pd.testing.assert_frame_equal(*frames)
    assert len(frames[0]) == 49 and set(frames[0]["target"]) == {"vps1", "resolver"}
    assert checked.notes == indexed.notes and len(checked.notes) == 1
    assert checked.events == indexed.events and len(checked.events) == 1


@pytest.mark.usefixtures("workers_for_small_stores")
@pytest.mark.parametrize(("kind", "k"), [("flip_byte", 11), ("delete_row", 21), ("swap_rows", 5)])
def test_workers_name_the_reference_break(tmp_path: Path, kind: str, k: int) -> None:
    path = tampered(tmp_path / "evidence.db", kind, k)
    with EvidenceStore.open(path, readonly=True) as store:
        reference = store.verify()
        read = read_store(store, EVERYTHING, workers=3)
    assert (read.verification["first_bad_seq"], read.verification["problem"]) == (
        reference.first_bad_seq,
        reference.problem,
    )
    assert read.verification["ok"] is False
    # the report still shows every stored sample beside the failed check
    assert len(sample_frame(read.parts)) == reference.count
