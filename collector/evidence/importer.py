"""Importing probe history kept elsewhere (JSON lines) into the evidence store.

A user who monitored the host before installing slawitness, or with another tool, keeps
that history: each line becomes a probe record like the collector's own, marked with
`origin: "import:<sha256 of the file>"` so a report shows which figures rest on imported
data and anyone can check them against the file. One line is one attempt::

    {"ts": "2026-10-03T04:05:06Z", "target": "vps1", "probe": "web", "ok": false,
     "kind": "http", "role": "target", "latency_s": 1.5, "loss": null,
     "error": "timeout", "detail": {"status": 0}, "vantage": "office"}

`ts` must carry a zone (or give `ts_ns`, integer UTC ns); `kind` and `role` may be left out
for a probe the config names. Seconds and ratios become integer ns and ppm, because the
hashed bytes never hold floats. Every line is checked before anything is written; the
first bad one comes back as `ImportFileError("FILE:LINE: field: problem")` and the store
is untouched. The samples and one `import` record (file hash, name, count) are appended in
one transaction, so a file is in the store entirely or not at all, and importing the same
file again is refused by finding its import record. A line whose (vantage, ts_ns, target,
probe) is already in the store, or earlier in the file, is skipped and counted.

The file is read up to `DOCUMENT_LIMIT` and each line up to `MAX_LINE_BYTES` (so
`import /dev/zero` ends with a message, not with the machine's memory), lines are parsed
with `loads_bounded` (no deep nesting, no 5000-digit numbers), and every value that ends
up in a record is checked against what a record can hold: dates in the evidence era,
latencies up to a day, `detail` integers in 64 bits and text that is valid Unicode.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from collector.config.model import Config
from collector.core.bounded_read import DOCUMENT_LIMIT, MIB, FileTooLarge, read_bounded
from collector.core.evidence_era import instant_problem, ns_problem
from collector.core.json_limits import JsonLimitError, loads_bounded
from collector.core.results import ErrorClass
from collector.evidence.records import readable
from collector.evidence.store import EvidenceStore
from collector.evidence.store_errors import StoreError
from collector.portable.errors import UsageError
from collector.probes import KINDS

FIELDS = frozenset(
    {"ts", "ts_ns", "target", "probe", "kind", "role", "ok", "latency_s", "loss", "error"}
    | {"detail", "vantage"}
)
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_LINE_BYTES = 64 * 2**10
"""A line is one attempt: a few hundred bytes, a `detail` of a few kilobytes at most."""
MAX_LATENCY_S = 86400.0
"""No attempt of any monitor lasts a day."""
_INT64 = 2**63
_FRACTION = re.compile(r"[.,](\d+)")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ERRORS = frozenset(e.value for e in ErrorClass)


class ImportFileError(UsageError):
    """The file cannot be imported; one line, `FILE:LINE: field: problem` for a bad line."""


@dataclass(frozen=True)
class ImportReport:
    """What an import did: the file's hash, samples appended, duplicate lines skipped."""

    file_sha256: str
    imported: int
    skipped_duplicates: int


class _Key(NamedTuple):
    vantage: str
    ts_ns: int
    target: str
    probe: str


class _Bad(ValueError):
    """One field of one line is wrong: `field: problem`."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")


def import_jsonl(
    path: Path, store: EvidenceStore, config: Config, *, now_ns: int | None = None
) -> ImportReport:
    """Check every line of `path`, then append them all (and an import record) atomically;
    the import record is dated `now_ns` (now; a test's store of fixed dates gives its own)."""
    data = _read_file(path)
    sha = hashlib.sha256(data).hexdigest()
    records = parse_lines(path, data, config, origin=f"import:{sha}")
    try:
        for found in store.records(types=["import"]):
            if found.record.get("file_sha256") == sha:
                raise ImportFileError(
                    f"{path}: already imported (seq {found.seq},"
                    f" as {found.record.get('file_name')}, sha256 {sha})"
                )
        fresh = _without_known(store, records)
        import_record = {
            "type": "import",
            "ts_ns": time.time_ns() if now_ns is None else now_ns,
            "target": None,
            "vantage": config.vantage,
            "file_sha256": sha,
            "file_name": readable(path.name),
            "records": len(fresh),
            "skipped_duplicates": len(records) - len(fresh),
        }
        store.append([*fresh, import_record])
    except StoreError as exc:
        raise ImportFileError(f"{path}: {exc}") from exc
    return ImportReport(sha, len(fresh), len(records) - len(fresh))


def _read_file(path: Path) -> bytes:
    """The file's bytes, or ImportFileError when it cannot be read or is larger than a
    document (about 300,000 lines; a longer history is imported in parts, each with its
    own import record)."""
    try:
        return read_bounded(path, DOCUMENT_LIMIT)
    except FileTooLarge as exc:
        raise ImportFileError(
            f"{path}: larger than {DOCUMENT_LIMIT // MIB} MiB; split it and import each part"
        ) from exc
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def parse_lines(path: Path, data: bytes, config: Config, *, origin: str) -> list[dict[str, Any]]:
    """Every non-blank line as a probe record, or ImportFileError naming the first bad one."""
    known = {
        (host.name, probe.name): (probe.kind, host.role)
        for host in config.hosts()
        for probe in host.probes
    }
    records = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE_BYTES:
            raise ImportFileError(
                f"{path}:{number}: line longer than {MAX_LINE_BYTES // 2**10} KiB"
            )
        try:
            line = loads_bounded(raw)
        except (UnicodeDecodeError, json.JSONDecodeError, JsonLimitError) as exc:
            raise ImportFileError(f"{path}:{number}: not valid JSON ({_reason(exc)})") from None
        try:
            records.append(probe_record(line, config.vantage, known, origin))
        except _Bad as exc:
            raise ImportFileError(f"{path}:{number}: {exc}") from None
    if not records:
        raise ImportFileError(f"{path}: no records in the file")
    return records


def probe_record(
    line: object, vantage: str, known: Mapping[tuple[str, str], tuple[str, str]], origin: str
) -> dict[str, Any]:
    """One line as the collector's probe record shape, or _Bad naming the field."""
    if not isinstance(line, dict):
        raise _Bad("line", f"expected a JSON object, got {type(line).__name__}")
    unknown = sorted(set(line) - FIELDS)
    if unknown:
        raise _Bad(unknown[0], f"unknown field (fields are {', '.join(sorted(FIELDS))})")
    target, probe = _name(line, "target"), _name(line, "probe")
    kind, role = known.get((target, probe), (None, None))
    kind = _choice(line, "kind", kind, set(KINDS))
    role = _choice(line, "role", role, {"target", "control"})
    ok = line.get("ok")
    if not isinstance(ok, bool):
        raise _Bad("ok", f"must be true or false, got {ok!r}")
    error = line.get("error")
    if error is not None and (not isinstance(error, str) or error not in ERRORS):
        raise _Bad("error", f"must be one of {', '.join(sorted(ERRORS))} or null, got {error!r}")
    if ok and error is not None:
        raise _Bad("error", "a successful attempt has no error class (use null)")
    if not ok and error is None:
        raise _Bad("error", "a failed attempt needs an error class (use other if unknown)")
    loss = _number(line, "loss", 1.0)
    latency = _number(line, "latency_s", MAX_LATENCY_S)
    return {
        "type": "probe",
        "ts_ns": _ts_ns(line),
        "mono_ns": None,
        "boot_id": None,
        "vantage": _name(line, "vantage") if "vantage" in line else vantage,
        "target": target,
        "probe": probe,
        "kind": kind,
        "role": role,
        "ok": ok,
        "latency_ns": _scaled(latency, 1e9),
        "duration_ns": None,
        "phases_ns": None,
        "loss_ppm": _scaled(loss, 1e6),
        "error": error,
        "detail": _detail(line.get("detail")),
        "origin": origin,
    }


def _without_known(store: EvidenceStore, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records whose key is neither in the store already nor earlier in the file."""
    seen: set[_Key] = set()
    since = min(r["ts_ns"] for r in records)
    until = max(r["ts_ns"] for r in records) + 1
    for target in {r["target"] for r in records}:
        for found in store.records(since_ns=since, until_ns=until, target=target, types=["probe"]):
            seen.add(_key(found.record))
    fresh = []
    for record in records:
        key = _key(record)
        if key not in seen:
            seen.add(key)
            fresh.append(record)
    return fresh


def _key(record: Mapping[str, Any]) -> _Key:
    return _Key(record.get("vantage"), record["ts_ns"], record["target"], record.get("probe"))  # type: ignore[arg-type]


def _ts_ns(line: dict[str, Any]) -> int:
    """`ts_ns` as given, or `ts` (ISO 8601 with a zone) converted exactly to UTC ns."""
    if ("ts" in line) == ("ts_ns" in line):
        raise _Bad("ts", "give exactly one of ts (ISO 8601 with a zone) and ts_ns")
    if "ts_ns" in line:
        value = line["ts_ns"]
        if type(value) is not int or value <= 0:
            raise _Bad("ts_ns", f"must be a positive integer (UTC nanoseconds), got {value!r}")
        problem = ns_problem(value)
        if problem is not None:
            raise _Bad("ts_ns", f"{value} is {problem}")
        return value
    text = line["ts"]
    if not isinstance(text, str):
        raise _Bad("ts", f"must be an ISO 8601 string, got {text!r}")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad("ts", f"not an ISO 8601 date-time: {text!r}") from None
    if when.utcoffset() is None:
        raise _Bad("ts", f"no time zone in {text!r} (add Z or an offset like +08:00)")
    problem = instant_problem(when)
    if problem is not None:
        raise _Bad("ts", f"{text!r} is {problem}")
    micros = (when - _EPOCH) // timedelta(microseconds=1)
    fraction = _FRACTION.search(text)
    extra = int(fraction.group(1)[6:9].ljust(3, "0")) if fraction else 0
    return micros * 1000 + extra


def _name(line: dict[str, Any], key: str) -> str:
    value = line.get(key)
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise _Bad(key, f"must be a name of letters, digits, _ . - (got {value!r})")
    return value


def _choice(line: dict[str, Any], key: str, default: str | None, allowed: set[str]) -> str:
    value = line.get(key, default)
    if not isinstance(value, str) or value not in allowed:
        if key not in line:
            raise _Bad(key, "missing (needed for a probe the config does not name)")
        raise _Bad(key, f"must be one of {', '.join(sorted(allowed))}, got {value!r}")
    return str(value)


def _number(line: dict[str, Any], key: str, most: float | None) -> float | None:
    value = line.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise _Bad(key, f"must be a number or null, got {value!r}")
    if value < 0 or (most is not None and value > most):
        limit = f"between 0 and {most:g}" if most is not None else "0 or more"
        raise _Bad(key, f"must be {limit}, got {value!r}")
    return float(value)


def _scaled(value: float | None, factor: float) -> int | None:
    return None if value is None else round(value * factor)


def _detail(value: object) -> dict[str, str | int | bool | None]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Bad("detail", f"must be an object, got {type(value).__name__}")
    for key, item in value.items():
        where = f"detail.{key}" if key.isidentifier() else f"detail[{key!r}]"
        if not _encodable(key):
            raise _Bad(where, "the key is not valid Unicode (a lone surrogate)")
        if isinstance(item, float):
            raise _Bad(where, f"floats are not stored ({item!r}); use an integer or text")
        if item is not None and not isinstance(item, str | int | bool):
            raise _Bad(where, "must be text, an integer, true/false or null")
        if isinstance(item, str) and not _encodable(item):
            raise _Bad(where, "not valid Unicode (a lone surrogate)")
        if isinstance(item, int) and not -_INT64 <= item < _INT64:
            raise _Bad(where, "an integer beyond 64 bits")
    return dict(value)


def _encodable(text: str) -> bool:
    """Whether `text` can be stored: UTF-8 has no lone surrogates (JSON's `\\ud800`)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    if isinstance(exc, JsonLimitError):
        return str(exc)
    return "not UTF-8"
