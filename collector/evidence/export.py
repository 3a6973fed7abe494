"""Records out of the store as JSON lines or CSV, for spreadsheets and other tools.

JSON lines carry each record exactly as hashed, plus its `seq` and `hash` so a reader can
re-verify it, and a readable `ts`. CSV flattens the fields a person reads, in seconds and
ratios; nested fields stay JSON inside their cell.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TextIO

from collector.evidence.store import StoredRecord

CSV_COLUMNS = [
    "seq", "ts", "type", "vantage", "target", "probe", "kind", "role", "ok", "latency_s",
    "loss", "error", "detail", "phases_ns", "event", "ticket", "text", "origin", "hash",
]  # fmt: skip


def iso_from_ns(ts_ns: int) -> str:
    """UTC ISO 8601, microseconds truncated (never rounded up past the record's own time)."""
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    when = datetime.fromtimestamp(seconds, tz=UTC) + timedelta(microseconds=nanos // 1000)
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def write_jsonl(rows: Iterable[StoredRecord], out: TextIO) -> int:
    """One JSON object a line; returns how many were written."""
    count = 0
    for row in rows:
        line = {"seq": row.seq, "hash": row.hash, "ts": iso_from_ns(_ts(row)), **row.record}
        out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
    return count


def write_csv(rows: Iterable[StoredRecord], out: TextIO) -> int:
    """A header and one row per record; returns how many were written."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(_csv_row(row))
        count += 1
    return count


def _ts(row: StoredRecord) -> int:
    ts = row.record.get("ts_ns")
    return ts if isinstance(ts, int) else 0


def _csv_row(row: StoredRecord) -> dict[str, object]:
    record = row.record
    latency = record.get("latency_ns")
    loss = record.get("loss_ppm")
    flat: dict[str, object] = {
        **{k: v for k, v in record.items() if k in CSV_COLUMNS},
        "seq": row.seq,
        "hash": row.hash,
        "ts": iso_from_ns(_ts(row)),
        "latency_s": latency / 1e9 if isinstance(latency, int) else "",
        "loss": loss / 1e6 if isinstance(loss, int) else "",
    }
    for nested in ("detail", "phases_ns"):
        if record.get(nested) is not None:
            flat[nested] = json.dumps(record[nested], ensure_ascii=False, sort_keys=True)
    return flat
