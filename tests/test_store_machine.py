"""A stateful test of the store: appends, crashes, verifies and tampering, in any order.

Hypothesis drives one real store file through sequences of steps. Appends go through the
store; a crash leaves a writer's transaction uncommitted in a process that then vanishes
(a raw connection abandoned mid-write); a tamper is one of tests/test_store_tamper.py's
attacks at a random position before the head, made on a copy so the next steps continue on
the intact store. Whatever came before, `verify` must pass on the intact store, keep every
appended record, and name exactly the first affected seq of a tampered one.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import apsw
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from collector.evidence.store import EvidenceStore
from tests.conftest import _FIGURES as FIGURES
from tests.rig import slow_run
from tests.rig.stores import make_record, raw_connection
from tests.test_store_tamper import TAMPERS


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="slawitness-machine-"))
        self.path = self.folder / "evidence.db"
        EvidenceStore.create(self.path).close()
        self.appended: list[tuple[int, str]] = []
        self.next_record = 1

    @rule(size=st.integers(1, 5))
    def append(self, size: int) -> None:
        records = [make_record(self.next_record + i) for i in range(size)]
        self.next_record += size
        with EvidenceStore.open(self.path) as store:
            self.appended += [(a.seq, a.hash) for a in store.append(records)]

    @rule()
    def crash_mid_write(self) -> None:
        """A writer dies holding the write lock with a row inserted but not committed."""
        FIGURES["crash: writers abandoned mid-transaction (stateful test)"] += 1
        conn = apsw.Connection(str(self.path))
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO records VALUES (?, 1, 'probe', 'vps1', x'7b7d', ?)",
            (len(self.appended) + 1, "00" * 32),
        )
        conn.close()  # closing without COMMIT rolls back, as the OS does for a dead process

    @precondition(lambda self: len(self.appended) >= 2)
    @rule(data=st.data(), kind=st.sampled_from(sorted(TAMPERS)))
    def tamper_a_copy(self, data: st.DataObject, kind: str) -> None:
        position = data.draw(st.integers(1, len(self.appended) - 1), label="position")
        copy = self.folder / "tampered.db"
        with EvidenceStore.open(self.path) as store:  # a checkpoint: the copy is the whole file
            store.verify()
        with raw_connection(self.path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copyfile(self.path, copy)
        with raw_connection(copy, drop_triggers=True) as conn:
            expected = TAMPERS[kind](conn, position)
        with EvidenceStore.open(copy, readonly=True) as store:
            report = store.verify()
        copy.unlink()
        assert not report.ok and report.first_bad_seq == expected, (kind, position, report)
        FIGURES["tamper: cases tried and detected at the right seq"] += 1

    @invariant()
    def intact_store_verifies_and_keeps_everything(self) -> None:
        with EvidenceStore.open(self.path, readonly=True) as store:
            report = store.verify()
            assert report.ok, report.problem
            assert report.count == len(self.appended)
            if self.appended:
                stored = [(r.seq, r.hash) for r in store.records()]
                assert stored == self.appended

    def teardown(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


StoreMachine.TestCase.settings = settings(
    max_examples=300 if slow_run() else 60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_store_machine = StoreMachine.TestCase
