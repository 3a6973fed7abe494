"""The collector's clock, as evidence: the sync state in every record, jumps flagged by verify."""

from __future__ import annotations

from pathlib import Path

from collector.config.model import Config
from collector.evidence.clock_sync import read_clock_state
from collector.evidence.records import Stamp, collector_record
from collector.evidence.store import EvidenceStore, VerifyReport
from reports.sources.stores import load_store_samples
from tests.clirun import slawitness, write_config
from tests.rig.stores import make_record

S = 1_000_000_000
T0, M0 = 1_790_000_000 * S, 5_000 * S


def stamped(
    i: int, *, jump_s: float = 0, boot: str = "boot-a", synced: bool | None = True
) -> dict[str, object]:
    """Record i, a minute after record i-1 on both clocks, the wall clock moved by jump_s."""
    stamp = Stamp(T0 + i * 60 * S + int(jump_s * S), M0 + i * 60 * S, boot, synced)
    return {**make_record(i), **stamp.fields()}


def verify(path: Path, records: list[dict[str, object]]) -> VerifyReport:
    with EvidenceStore.create(path) as store:
        store.append(records)
        return store.verify()


def test_the_kernel_clock_state_is_read() -> None:
    state = read_clock_state()
    assert isinstance(state.synced, bool)
    assert isinstance(state.offset_ns, int) and isinstance(state.max_error_ns, int)
    assert state.max_error_ns >= 0


def test_every_record_says_whether_the_clock_was_synchronised() -> None:
    now = read_clock_state().synced
    record = collector_record("round", Stamp.now(), "office")
    assert record["clock_synced"] is now
    assert isinstance(record["clock_max_error_ns"], int)


def test_a_wall_clock_jump_is_flagged_not_a_break(tmp_path: Path) -> None:
    records = [stamped(i, jump_s=0 if i < 5 else 5.0) for i in range(1, 9)]
    report = verify(tmp_path / "evidence.db", records)
    assert report.ok
    (jump,) = report.clock_jumps
    assert (jump.seq_before, jump.seq_after, jump.jump_ns) == (4, 5, 5 * S)


def test_slewing_reboots_and_imports_are_not_jumps(tmp_path: Path) -> None:
    slewed = [stamped(i, jump_s=i * 0.01) for i in range(1, 6)]  # 10 ms a minute: NTP slewing
    rebooted = [stamped(i, jump_s=300, boot="boot-b") for i in range(6, 9)]
    imported = [{**make_record(9), "ts_ns": T0}]  # no monotonic time
    report = verify(tmp_path / "evidence.db", [*slewed, *rebooted, *imported])
    assert report.ok and report.clock_jumps == ()


def test_unsynchronised_records_are_counted_and_kept(tmp_path: Path) -> None:
    records = [stamped(i, synced=i % 3 != 0) for i in range(1, 10)]
    report = verify(tmp_path / "evidence.db", records)
    assert report.ok and report.count == 9
    assert report.unsynced == 3


def test_verify_prints_the_clock_findings_and_still_passes(tmp_path: Path) -> None:
    probes = [{"name": "ssh", "kind": "tcp", "port": 22}]
    config = write_config(tmp_path, [{"name": "vps1", "host": "127.0.0.1", "probes": probes}])
    records = [stamped(i, jump_s=-90.0 if i >= 3 else 0, synced=i != 2) for i in range(1, 5)]
    verify(tmp_path / "evidence.db", records)
    done = slawitness("verify", "--config", str(config))
    assert done.returncode == 0 and "chain intact" in done.stdout
    assert "1 records were taken while the clock was not synchronised" in done.stderr
    assert "the wall clock jumped -90.000 s between seq 2 and seq 3" in done.stderr


def test_the_report_states_the_clock_findings(tmp_path: Path) -> None:
    config = Config.model_validate(
        {"vantage": "office", "targets": [{"name": "vps1", "host": "127.0.0.1",
         "probes": [{"name": "ssh", "kind": "tcp", "port": 22}]}]}
    )  # fmt: skip
    beats = []
    for i in range(1, 7):  # a heartbeat a minute; the wall clock set back 30 s after the third
        stamp = Stamp(T0 + i * 60 * S - (30 * S if i > 3 else 0), M0 + i * 60 * S, "boot-a", i > 2)
        beats.append(collector_record("heartbeat", stamp, "office"))
    probes = [stamped(i) for i in range(1, 7)]
    with EvidenceStore.create(tmp_path / "evidence.db") as store:  # in the order taken
        store.append([r for pair in zip(probes, beats, strict=True) for r in pair])
    data = load_store_samples([tmp_path / "evidence.db"], config, T0, T0 + 3600 * S)
    unsynced, jump = data.caveats
    assert "not synchronised at 2 of the 6 collector records" in unsynced
    assert "jumped -30.000 s against its monotonic clock" in jump
