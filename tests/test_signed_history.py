"""`verify` holds the store to what only its key could sign, and to dates it could have taken.

A day of one-minute probes is written the way the collector writes it, with a checkpoint
signed every hour. Then the attacker works: one who read the source and has SQLite but not
the key rewrites a record, re-chains, recomputes every later checkpoint record's root and
frontier and keeps the old signature line (or signs with a key of their own); one with no
tools at all appends 180 failures dated a month back under a boot id of their own. Each
must be named by seq with exit 1; what a collector really does (a clock set back within one
boot, old history imported from a file) must not be.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import apsw
import pytest

from collector.config.loader import load_config
from collector.core.results import ErrorClass, Result
from collector.evidence.importer import import_jsonl
from collector.evidence.records import ProbeIdentity, Stamp, probe_record
from collector.evidence.store import EvidenceStore
from collector.portable.chain import canonical_payload
from collector.portable.merkle import Frontier, leaf_hash
from collector.portable.signed_note import SigningKey
from collector.proving import checkpoints
from collector.proving.record_dates import allowance_ns
from reports.sources import store_scan
from reports.sources.store_scan import SampleFilter, read_store
from tests.clirun import slawitness, write_config
from tests.month_store import MINUTE_NS, ns
from tests.rig.stores import raw_connection, rechain_from

S = 1_000_000_000
DAY_START = "2026-10-01T00:00:00"
HOURS = 24
PROBE = {"name": "ssh", "kind": "tcp", "port": 22, "interval": "60s", "timeout": "2s"}
IDENTITY = ProbeIdentity("test-vantage", "vps1", "ssh", "tcp", "target")
BOOT = "6f1c2a52-0000-4000-8000-000000000001"


def _collected(folder: Path, hours: int = HOURS, *, signed_hours: int | None = None) -> Path:
    """A config, its key, and a store of `hours` of one-minute probes, signed hourly for the
    first `signed_hours` (all of them by default), as `slawitness run` leaves them."""
    target = {"name": "vps1", "host": "127.0.0.1", "probes": [PROBE], "sla": {"uptime": 99.9}}
    config = write_config(folder, [target])
    key = checkpoints.create_key(folder / "slawitness.key", "test-collector")
    start = ns(DAY_START)
    with EvidenceStore.create(folder / "evidence.db") as store:
        for hour in range(hours):
            batch = []
            for minute in range(60):
                ts = start + (hour * 60 + minute) * MINUTE_NS
                ok = Result(ok=True, latency_ns=12_000_000)
                batch.append(probe_record(IDENTITY, Stamp(ts, ts - start, BOOT), ok, 12_000_000))
            store.append(batch)
            if signed_hours is None or hour < signed_hours:
                end = start + (hour + 1) * 60 * MINUTE_NS
                checkpoints.write(store, key, "test-vantage", Stamp(end, end - start, BOOT))
    return config


def _verify(config: Path, *extra: str) -> tuple[int, str, str]:
    done = slawitness("verify", "--config", str(config), *extra)
    assert "Traceback" not in done.stderr
    return done.returncode, done.stdout, done.stderr


def _rewrite(path: Path, seq: int, signer: SigningKey | None = None) -> list[int]:
    """The attacker without the key: flip record `seq`, then for every later row recompute
    the checkpoint records' root, frontier and note text (the old signature line kept, or
    `signer`'s), and re-chain. Returns the seqs of the checkpoints rewritten."""
    rewritten = []
    with raw_connection(path, drop_triggers=True) as conn:
        (payload,) = conn.execute("SELECT payload FROM records WHERE seq = ?", (seq,)).fetchone()
        record = json.loads(payload)
        record["ok"], record["error"] = False, "timeout"
        _store_payload(conn, seq, record)
        rechain_from(conn, seq)
        later = conn.execute("SELECT seq, payload FROM records WHERE seq >= ? AND type = ?"
                             " ORDER BY seq", (seq, "checkpoint")).fetchall()  # fmt: skip
        for at, payload in later:  # each over the hashes as the rewrites before it left them
            forged = _forged_checkpoint(conn, json.loads(payload), signer)
            conn.execute("UPDATE records SET payload = ? WHERE seq = ?", (forged, at))
            rechain_from(conn, at)
            rewritten.append(at)
    return rewritten


def _store_payload(conn: apsw.Connection, seq: int, record: dict[str, object]) -> None:
    conn.execute("UPDATE records SET payload = ? WHERE seq = ?", (canonical_payload(record), seq))


def _forged_checkpoint(
    conn: apsw.Connection, record: dict[str, object], signer: SigningKey | None
) -> bytes:
    """The checkpoint record over the records as they now are: root and frontier right."""
    size = int(record["size"])  # type: ignore[call-overload]
    tree = Frontier()
    for (digest,) in conn.execute("SELECT hash FROM records WHERE seq <= ? ORDER BY seq", (size,)):
        tree.append(leaf_hash(bytes.fromhex(digest)))
    text, _, signatures = str(record["note"]).rpartition("\n\n")
    lines = text.split("\n")
    lines[2] = base64.b64encode(tree.root()).decode()
    body = "\n".join(lines) + "\n"
    if signer is None:
        note = f"{body}\n{signatures}"
    else:
        note, record["key"] = signer.sign(body), signer.verifier().encode()
    record.update(root=tree.root().hex(), frontier=[h.hex() for h in tree.hashes], note=note)
    return canonical_payload(record)


def test_an_honest_store_verifies_with_its_signatures_and_dates(tmp_path: Path) -> None:
    config = _collected(tmp_path)
    code, out, err = _verify(config)
    assert code == 0, out + err
    assert "chain intact, 1464 records" in out
    assert "24 checkpoints, each signed by test-collector" in out
    assert "BACKDATED" not in out and "set back" not in err


@pytest.mark.parametrize("how", ["config", "--key", "store only"])
def test_a_rewrite_that_keeps_the_old_signatures_is_named(tmp_path: Path, how: str) -> None:
    """The chain links and every checkpoint's tree matches the records again: only the
    signatures show the history is not the one signed."""
    config = _collected(tmp_path)
    forged = _rewrite(tmp_path / "evidence.db", 300)
    assert forged[0] == 305  # the checkpoint of hour 5, over the first 300 probes + 4 others
    if how == "config":
        code, out, _ = _verify(config)
    elif how == "--key":
        code, out, _ = _verify(tmp_path / "none.yml", "--store", str(tmp_path / "evidence.db"),
                               "--key", str(tmp_path / "slawitness.key.pub"))  # fmt: skip
    else:
        code, out, _ = _verify(tmp_path / "none.yml", "--store", str(tmp_path / "evidence.db"))
    assert code == 1
    assert "chain intact, 1464 records" in out
    for seq in forged:
        assert (
            f"checkpoint seq {seq}: the signature by key test-collector does not verify:"
            " FORGED, or changed after it was signed" in out
        )
    assert "4 checkpoints, each signed by test-collector" in out  # the hours before the edit
    assert "REWRITTEN" not in out, "the forged trees match: only the signatures tell"


def test_a_checkpoint_signed_by_another_key_is_named(tmp_path: Path) -> None:
    config = _collected(tmp_path)
    attacker = SigningKey("test-collector", bytes(range(32)))
    forged = _rewrite(tmp_path / "evidence.db", 300, signer=attacker)
    code, out, _ = _verify(config)  # the .pub beside the config's key
    assert code == 1
    assert (
        f"checkpoint seq {forged[0]}: the note carries no signature by key test-collector"
        f" ({checkpoints.load_key(tmp_path / 'slawitness.key').verifier().id.hex()})"
        f" (the record names key {attacker.verifier().encode()}): FORGED" in out
    )
    code, out, err = _verify(tmp_path / "none.yml", "--store", str(tmp_path / "evidence.db"))
    assert code == 1, "the store's checkpoints name two keys"
    assert f"checkpoint seq {forged[0]} names key {attacker.verifier().encode()}" in out
    assert "not all by one key" in out
    assert "give --key FILE.pub to check them against yours" in err


def test_a_record_that_claims_another_tree_than_its_note_is_named(tmp_path: Path) -> None:
    config = _collected(tmp_path)
    path = tmp_path / "evidence.db"
    with raw_connection(path, drop_triggers=True) as conn:
        (payload,) = conn.execute("SELECT payload FROM records WHERE seq = 61").fetchone()
        record = json.loads(payload)
        assert record["type"] == "checkpoint"
        _store_payload(conn, 61, {**record, "size": 59})
        rechain_from(conn, 1)
    code, out, _ = _verify(config)
    assert code == 1 and "chain intact" in out
    assert "checkpoint seq 61: the record claims 59 records with root" in out
    assert "its signed note says 60 with root" in out


def test_verify_key_alone_checks_the_stored_checkpoints(tmp_path: Path) -> None:
    """`--key` without `--checkpoint` is not ignored: the stored checkpoints are checked
    against it, and a key that signed none of them is said so for each."""
    _collected(tmp_path)
    other = checkpoints.create_key(tmp_path / "other.key", "someone-else")
    code, out, _ = _verify(tmp_path / "none.yml", "--store", str(tmp_path / "evidence.db"),
                           "--key", str(tmp_path / "other.key.pub"))  # fmt: skip
    assert code == 1
    assert out.count("the note carries no signature by key someone-else") == 24
    key_id = other.verifier().id.hex()
    assert f"checkpoint seq 61: the note carries no signature by key someone-else ({key_id})" in out


def _failures_dated(start: str, count: int, *, boot: str, mono_ns: int) -> list[dict[str, object]]:
    """`count` failed attempts a minute apart from `start`, as a collector would stamp them."""
    first = ns(start)
    failed = Result.failure(ErrorClass.TIMEOUT, "no answer")
    return [
        probe_record(
            IDENTITY, Stamp(first + i * MINUTE_NS, mono_ns + i * MINUTE_NS, boot), failed, 2 * S
        )
        for i in range(count)
    ]


def test_failures_dated_a_month_back_are_named(tmp_path: Path) -> None:
    """No tampering at all: 180 records appended through the store, dated a month before
    the day they were appended after, under a boot id of their own."""
    config = _collected(tmp_path)
    with EvidenceStore.open(tmp_path / "evidence.db") as store:
        store.append(_failures_dated("2026-09-01T10:00:00", 180, boot="another-boot", mono_ns=S))
    code, out, _ = _verify(config)
    assert code == 1 and "chain intact, 1644 records" in out
    assert (
        "seq 1465-1644: 180 records dated up to 31 days before the time the checkpoint at"
        " seq 1464 signed, chained before them: BACKDATED" in out
    )


def test_a_record_later_than_the_last_checkpoint_but_earlier_than_its_neighbour(
    tmp_path: Path,
) -> None:
    """Dated after every checkpoint, but ten minutes before the records chained ahead of
    it (the longest attempt here is 2 s): named against the newest record, by seq."""
    config = _collected(tmp_path, signed_hours=23)
    with EvidenceStore.open(tmp_path / "evidence.db") as store:
        newest = store.head()
        assert newest is not None
        store.append(_failures_dated("2026-10-01T23:50:00", 1, boot="another", mono_ns=S))
    code, out, _ = _verify(config)
    assert code == 1
    assert (
        f"seq {newest.seq + 1}: 1 record dated up to 9 min before seq {newest.seq}, chained"
        " before them: BACKDATED" in out
    )


def test_a_clock_set_back_within_one_boot_is_a_warning(tmp_path: Path) -> None:
    """The same boot's monotonic clock ran on while the wall clock went back ten minutes:
    the collector took the records in time and its clock said so; flagged, not failed."""
    config = _collected(tmp_path)
    end = ns(DAY_START) + HOURS * 60 * MINUTE_NS
    mono = end - ns(DAY_START) + MINUTE_NS
    with EvidenceStore.open(tmp_path / "evidence.db") as store:
        set_back = _failures_dated("2026-10-01T23:51:00", 5, boot=BOOT, mono_ns=mono)
        store.append(set_back)
    code, out, err = _verify(config)
    assert code == 0, out
    assert "the wall clock jumped -600.000 s" in err
    assert "seq 1465-1469: 5 records dated up to 9 min before" in err
    assert "the wall clock was set back (the same boot's monotonic clock ran on)" in err


def _september_report(config: Path, out: Path) -> dict[str, Any]:
    """The report of 2026-09 (json, html in both languages); its summary.json."""
    done = slawitness("report", "--config", str(config), "--target", "vps1", "--period",
                      "2026-09", "--out", str(out), "--format", "json,html", "--lang", "en,zh",
                      timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    return summary


def test_the_report_says_its_outage_rests_on_backdated_records(tmp_path: Path) -> None:
    config = _collected(tmp_path, 2)
    with EvidenceStore.open(tmp_path / "evidence.db") as store:
        store.append(_failures_dated("2026-09-01T10:00:00", 180, boot="another-boot", mono_ns=S))
    summary = _september_report(config, tmp_path / "report")
    dates = summary["stores"][0]["dates"]
    assert dates["backdated"] == 180
    assert dates["backdated_runs"][0].startswith("seq 123-302: 180 records dated up to 30 days")
    (caveat,) = [c for c in summary["caveats"] if "dated earlier than the store" in c]
    assert "180 records are dated earlier than the store could have taken them" in caveat
    html = (tmp_path / "report" / "report.en.html").read_text()
    assert "180 records are dated earlier than the store could have taken them" in html


def test_a_store_read_in_ranges_finds_what_one_pass_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second range begins inside the backdated run: alone it sees nothing wrong, so
    the ranges before it must flag it when they are joined."""
    _collected(tmp_path, 2)
    with EvidenceStore.open(tmp_path / "evidence.db") as store:
        store.append(_failures_dated("2026-09-01T10:00:00", 180, boot="another-boot", mono_ns=S))
    wanted = SampleFilter(0, 2**62, None, {}, None, allowance_ns(None))
    monkeypatch.setattr(store_scan, "RANGE_ROWS", 10)
    with EvidenceStore.open(tmp_path / "evidence.db", readonly=True) as store:
        alone = read_store(store, wanted, workers=1).verification["dates"]
        ranged = read_store(store, wanted, workers=2)
    assert len(ranged.parts) == 2
    assert ranged.verification["dates"]["backdated"] == alone["backdated"] == 180
    assert ranged.verification["dates"]["backdated_runs"][0].startswith("seq 123-151: 29 records")


def test_imported_old_records_are_not_flagged(tmp_path: Path) -> None:
    config = _collected(tmp_path)
    history = tmp_path / "old-monitor.jsonl"
    lines = [
        {"ts_ns": ns("2026-09-01T10:00:00") + i * MINUTE_NS, "target": "vps1", "probe": "ssh",
         "ok": False, "error": "timeout"}
        for i in range(180)
    ]  # fmt: skip
    history.write_text("".join(json.dumps(line) + "\n" for line in lines))
    # imported half an hour after the day ends (the import record is dated when it is made)
    with EvidenceStore.open(tmp_path / "evidence.db") as store:
        done = import_jsonl(history, store, load_config(config), now_ns=ns("2026-10-02T00:30:00"))
    assert (done.imported, done.skipped_duplicates) == (180, 0)
    code, out, _ = _verify(config)
    assert code == 0, out
    assert "180 imported records (origin import:...) keep the dates of their files" in out
    summary = _september_report(config, tmp_path / "report")
    assert summary["stores"][0]["dates"]["backdated"] == 0
    (imported,) = summary["samples"]["imported_files"]
    assert imported["file_name"] == "old-monitor.jsonl" and imported["samples"] == 180
    assert summary["samples"]["imported"] == 180
    en = (tmp_path / "report" / "report.en.html").read_text()
    zh = (tmp_path / "report" / "report.zh.html").read_text()
    assert "old-monitor.jsonl: 180 samples of this period" in en
    assert "old-monitor.jsonl：本期 180 个样本" in zh
    assert imported["file_sha256"] in en and imported["file_sha256"] in zh


def test_a_store_its_config_signs_that_holds_no_checkpoint_is_named(tmp_path: Path) -> None:
    config = _collected(tmp_path, 2, signed_hours=0)
    code, out, _ = _verify(config)
    assert code == 1
    assert (
        "no checkpoint in 120 records, but the config signs one every 1h: the store was never"
        " signed, or its checkpoints are gone" in out
    )
    (tmp_path / "slawitness.key").unlink()
    (tmp_path / "slawitness.key.pub").unlink()
    code, out, _ = _verify(config)
    assert code == 0, "with no key there is nothing the store should have signed"


def test_a_store_not_signed_for_hours_before_its_head_is_named(tmp_path: Path) -> None:
    config = _collected(tmp_path, 6, signed_hours=2)
    code, out, _ = _verify(config)
    assert code == 1
    assert (
        "the last checkpoint (seq 122) is 4.0 h older than the newest record (the config signs"
        " one every 1h): seq 123-362 are signed by no checkpoint" in out
    )
    (tmp_path / "fresh").mkdir()
    code, out, _ = _verify(_collected(tmp_path / "fresh", 6, signed_hours=4))
    assert code == 0, "two hours past the last of hourly checkpoints is within three intervals"
