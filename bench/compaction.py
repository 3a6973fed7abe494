"""Bytes per record and the year report, raw against compacted, on bench/report.py's store.

Run from the repository root: `python bench/compaction.py [--workdir DIR] [--quick] [--runs 3]`;
`--quick` uses bench/report.py's one-month store (its last 7 days stand for the live month).

1. Builds or reuses bench/report.py's store (same builder, same workdir layout).
2. Copies it and compacts the copy the way the collector leaves a store: every closed month
   as `seal` does (`compact` until the month's end), then the live (last) month as automatic
   compaction leaves it while collecting (now = the last record's ts plus a minute: records
   older than an hour in blocks, the last hour raw). Times it (wall, CPU, records/s). The
   copy is cached in WORKDIR/year/compacted-<codec>/ with its figures; delete it to redo.
3. Prints, for the raw and the compacted store, file bytes (incl. WAL) per record; the
   closed months' bytes per record (their blocks' pages, overflow pages included, plus their
   share of the pages no table owns, measured with SQLite's dbstat right after the closed
   months were compacted); the live store's (a store of only the live month's records,
   compacted as the collector leaves it: file size / its records); the raw rows' bytes
   per record (records table and its indexes). Goals: closed <= 32, live <= 200.
4. Times `slawitness report` (bench/report.py's command) and `slawitness verify`,
   alternating raw and compacted, `--runs` each; prints medians and compacted/raw (goal
   <= 1.0 within noise), checks both reports' summary.json hold the same figures, and
   profiles one compacted report (top functions in compacted-<codec>/profile.txt).
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import time
from calendar import monthrange
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import apsw
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import (
    MINUTE_NS,
    Span,
    bench_arguments,
    build_store,
    checked,
    config,
    profile,
    report_argv,
    run_child,
)
from collector.evidence.blocks import CODEC
from collector.evidence.compaction import compact
from collector.evidence.store import EvidenceStore

GOAL_CLOSED, GOAL_LIVE, BATCH = 32, 200, 20_000
RAW_TABLES = ("records", "records_ts", "records_target_ts", "records_type_seq")


def periods(span: Span) -> tuple[list[int], int]:
    """The ends of the closed months (ns) and where the live period starts: the last
    calendar month, or the last 7 days when the span is one month (`--quick`)."""
    end = datetime.fromisoformat(span.end).replace(tzinfo=UTC)
    last = end - timedelta(days=1)
    live = datetime(last.year, last.month, 1, tzinfo=UTC)
    if live.isoformat()[:10] <= span.start:
        live = end - timedelta(days=7)
    ends, day = [], datetime.fromisoformat(span.start).replace(tzinfo=UTC)
    while day < live:
        day = min(live, day + timedelta(days=monthrange(day.year, day.month)[1] - day.day + 1))
        ends.append(int(day.timestamp()) * 10**9)
    return ends, int(live.timestamp()) * 10**9


def file_bytes(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def pages(path: Path) -> dict[str, Any]:
    """dbstat's bytes per table/index (whole pages, overflow included), the file, the counts."""
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        owned = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
        raw = conn.execute("SELECT count(*), coalesce(max(ts_ns), 0) FROM records").fetchone()
        packed = conn.execute("SELECT coalesce(sum(count), 0), count(*) FROM blocks").fetchone()
    finally:
        conn.close()
    assert raw is not None and packed is not None
    return {
        "file": file_bytes(path),
        "owned": owned,
        "raw": raw[0],
        "last_ts": raw[1],
        "packed": packed[0],
        "blocks": packed[1],
    }


def closed_share(sizes: dict[str, Any]) -> float:
    """Bytes per record of the blocks: their pages plus their share (by pages) of what no
    table or index owns (schema, meta, pointer-map and free pages)."""
    owned = sizes["owned"]
    tables = sum(owned.get(name, 0) for name in (*RAW_TABLES, "blocks"))
    unowned = sizes["file"] - tables
    blocks = owned.get("blocks", 0)
    return (blocks + unowned * blocks / tables) / sizes["packed"]


def compacted_copy(folder: Path, raw: Path, span: Span) -> tuple[Path, dict[str, Any]]:
    """The compacted copy of `raw` (cached with its figures in compacted-<codec>/)."""
    place = folder / f"compacted-{CODEC}"
    store, figures = place / "evidence.db", place / "figures.json"
    if store.exists() and figures.exists():
        print(f"compacted: {store} (cached; delete the folder to redo)")
        return store, json.loads(figures.read_text())
    shutil.rmtree(place, ignore_errors=True)
    place.mkdir()
    (place / "slawitness.yml").write_text(yaml.safe_dump(config(), sort_keys=False))
    partial = place / "evidence.db.partial"
    shutil.copy(raw, partial)
    ends, _ = periods(span)
    now_ns = pages(raw)["last_ts"] + MINUTE_NS
    wall, cpu = time.perf_counter(), time.process_time()
    with EvidenceStore.open(partial) as writer:
        for month_end in ends:  # as `seal` leaves each closed month
            compact(writer, now_ns, until_ns=month_end)
    closed = pages(partial)
    with EvidenceStore.open(partial) as writer:  # the live month, as the collector leaves it
        compact(writer, now_ns)
    result = {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "closed": closed,
    }
    partial.rename(store)
    figures.write_text(json.dumps(result))
    return store, result


def live_store(folder: Path, raw: Path, span: Span) -> Path:
    """A store of only the live period's records, compacted as the collector leaves it."""
    place = folder / f"live-{CODEC}"
    store = place / "evidence.db"
    if store.exists():
        return store
    shutil.rmtree(place, ignore_errors=True)
    place.mkdir()
    partial = place / "evidence.db.partial"
    _, live = periods(span)
    with (
        EvidenceStore.open(raw, readonly=True) as reader,
        EvidenceStore.open(partial, create=True) as writer,
    ):
        batch: list[dict[str, object]] = []
        for stored in reader.records(since_ns=live):
            batch.append(stored.record)
            if len(batch) >= BATCH:
                writer.append(batch)
                batch = []
        writer.append(batch)
        compact(writer, pages(raw)["last_ts"] + MINUTE_NS)
    partial.rename(store)
    return store


def sizes_report(raw: Path, packed: Path, live: Path, made: dict[str, Any]) -> bool:
    """Print the bytes per record; True when both goals are met."""
    before, after, alone = pages(raw), pages(packed), pages(live)
    total = before["raw"]
    raw_rows = sum(before["owned"].get(name, 0) for name in RAW_TABLES) / total
    print(
        f"records: {total:,}; compacted store: {after['packed']:,} in {after['blocks']:,}"
        f" blocks, {after['raw']:,} raw"
    )
    print(
        f"compaction: {made['wall']:.0f} s wall, {made['cpu']:.0f} s CPU,"
        f" {after['packed'] / made['wall']:,.0f} records/s"
    )
    print(
        f"raw store: {before['file'] / total:.1f} B/record ({before['file'] / 2**20:,.0f} MiB);"
        f" raw rows (table + indexes) {raw_rows:.1f} B/record"
    )
    print(
        f"compacted store: {after['file'] / total:.1f} B/record ({after['file'] / 2**20:,.1f}"
        f" MiB), {before['file'] / after['file']:.0f}x smaller"
    )
    closed = closed_share(made["closed"])
    live_bytes = alone["file"] / (alone["raw"] + alone["packed"])
    print(
        f"closed months: {closed:.1f} B/record over {made['closed']['packed']:,} records"
        f" (goal <= {GOAL_CLOSED}): {'PASS' if closed <= GOAL_CLOSED else 'FAIL'}"
    )
    print(
        f"live store: {live_bytes:.1f} B/record ({alone['raw']:,} raw + {alone['packed']:,}"
        f" in blocks; goal <= {GOAL_LIVE}): {'PASS' if live_bytes <= GOAL_LIVE else 'FAIL'}"
    )
    return closed <= GOAL_CLOSED and live_bytes <= GOAL_LIVE


STORE_DESCRIPTION = (
    "generated_at", "stores", "caveats", "trusted_time", "witnessed", "provenance", "custody",
    "method_statement", "document_signing", "timestamps",
)  # fmt: skip
"""What a summary says of the files rather than of the service. Every report appends its
custody record to the store it read, so the raw store (read by report.py's runs before the
copy was taken) holds more of them; the SLA figures must still be equal."""


def figures(place: Path) -> object:
    """summary.json of the report in `place`/out: its SLA figures, without what it says of
    the store files (their counts, heads, paths and custody), which differ by design."""
    text = next((place / "out").rglob("summary.json")).read_text()
    summary = json.loads(text.replace(json.dumps(str(place))[1:-1] + "/", ""))
    for about_the_files in STORE_DESCRIPTION:
        summary.pop(about_the_files, None)
    return summary


def timings(folders: dict[str, Path], span: Span, runs: int) -> bool:
    """Alternate raw and compacted reports and verifies; print medians and ratios."""
    seconds: dict[str, list[float]] = {
        f"{w} {k}": [] for w in ("report", "verify") for k in folders
    }
    verdicts: dict[str, int] = {}
    for number in range(runs):
        for kind, place in folders.items():
            out = place / "out"
            shutil.rmtree(out, ignore_errors=True)
            argv = [sys.executable, *report_argv(place, span, out)]
            seconds[f"report {kind}"].append(checked(run_child(argv, place), "report").seconds)
            verify = [
                sys.executable,
                "-m",
                "cli",
                "verify",
                "--config",
                str(place / "slawitness.yml"),
            ]
            verified = run_child(verify, place)  # its verdict must agree, not be a pass:
            verdicts[kind] = verified.status  # the year store's clock findings exit 1
            seconds[f"verify {kind}"].append(verified.seconds)
        print(f"run {number + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in seconds.items()))
    medians = {k: statistics.median(v) for k, v in seconds.items()}
    for what in ("report", "verify"):
        ratio = medians[f"{what} compacted"] / medians[f"{what} raw"]
        print(
            f"median {what}: raw {medians[f'{what} raw']:.2f} s, compacted"
            f" {medians[f'{what} compacted']:.2f} s, compacted/raw {ratio:.2f}"
        )
    print(f"verify exit status: raw {verdicts['raw']}, compacted {verdicts['compacted']}")
    same = figures(folders["raw"]) == figures(folders["compacted"])
    same = same and verdicts["raw"] == verdicts["compacted"]
    print(f"summary.json figures: {'equal' if same else 'DIFFER'}")
    return same


def main() -> int:
    """Build or reuse the stores, compact a copy, print bytes per record, time the reports."""
    span, folder, runs = bench_arguments(__doc__.splitlines()[0])
    raw = build_store(folder, span)
    packed, made = compacted_copy(folder, raw, span)
    live = live_store(folder, raw, span)
    sizes_ok = sizes_report(raw, packed, live, made)
    same = timings({"raw": folder, "compacted": packed.parent}, span, runs)
    profile(packed.parent, span)
    return 0 if sizes_ok and same else 1


if __name__ == "__main__":
    sys.exit(main())
