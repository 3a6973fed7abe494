"""Importing JSON-lines history: checked line by line, appended atomically, never twice."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from collector.config.model import Config
from collector.core.results import Result
from collector.evidence.importer import ImportFileError, import_jsonl
from collector.evidence.records import ProbeIdentity, Stamp, probe_record
from collector.evidence.store import EvidenceStore
from reports.sources.stores import load_store_samples

T0 = 1_790_000_000_000_000_000  # 2026-09-21T14:13:20Z
T0_ISO = "2026-09-21T14:13:20Z"


@pytest.fixture
def config() -> Config:
    return Config.model_validate(
        {
            "vantage": "office",
            "targets": [
                {
                    "name": "vps1",
                    "host": "127.0.0.1",
                    "probes": [
                        {"name": "ping", "kind": "icmp", "interval": "60s", "timeout": "2s"},
                        {
                            "name": "web",
                            "kind": "http",
                            "url": "http://127.0.0.1/",
                            "interval": "60s",
                        },
                    ],
                }
            ],
            "controls": [
                {
                    "name": "resolver",
                    "host": "127.0.0.2",
                    "probes": [{"name": "ping", "kind": "icmp"}],
                }
            ],
        }
    )


def write_lines(path: Path, lines: list[Any]) -> Path:
    """A JSONL file; str items are written verbatim (for broken lines)."""
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    path.write_text(text, encoding="utf-8")
    return path


GOOD = [
    {"ts": T0_ISO, "target": "vps1", "probe": "web", "ok": True, "latency_s": 0.0123},
    {"ts": "2026-09-21T22:14:20.123456789+08:00", "target": "vps1", "probe": "web",
     "ok": False, "error": "timeout", "detail": {"status": 0, "message": "no answer"}},
    {"ts_ns": T0 + 120 * 10**9, "target": "vps1", "probe": "ping", "ok": True,
     "latency_s": 0.002, "loss": 0.25, "vantage": "branch"},
    {"ts": T0_ISO, "target": "resolver", "probe": "ping", "ok": True, "loss": 0},
    {"ts": T0_ISO, "target": "old-vps", "probe": "ssh", "kind": "tcp", "role": "target",
     "ok": False, "error": "refused"},
]  # fmt: skip


def test_good_file_imports_into_the_chain(
    tmp_path: Path, fresh_store: EvidenceStore, config: Config
) -> None:
    path = write_lines(tmp_path / "history.jsonl", GOOD)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    report = import_jsonl(path, fresh_store, config)
    assert (report.file_sha256, report.imported, report.skipped_duplicates) == (sha, 5, 0)
    assert fresh_store.verify().ok and fresh_store.count() == 6
    probes: list[dict[str, Any]] = [r.record for r in fresh_store.records(types=["probe"])]
    assert {r["origin"] for r in probes} == {f"import:{sha}"}
    web_ok, web_fail, ping, control, old = probes
    assert web_ok["ts_ns"] == T0 and web_ok["latency_ns"] == 12_300_000
    assert (web_ok["kind"], web_ok["role"], web_ok["vantage"]) == ("http", "target", "office")
    assert web_fail["ts_ns"] == T0 + 60 * 10**9 + 123_456_789  # offset and ns kept exactly
    assert web_fail["error"] == "timeout" and web_fail["detail"]["message"] == "no answer"
    assert ping["loss_ppm"] == 250_000 and ping["vantage"] == "branch"
    assert control["role"] == "control" and control["loss_ppm"] == 0
    assert old["kind"] == "tcp" and old["latency_ns"] is None
    for field in ("mono_ns", "boot_id", "phases_ns", "duration_ns"):
        assert web_ok[field] is None
    (marker,) = [r.record for r in fresh_store.records(types=["import"])]
    assert marker["file_sha256"] == sha and marker["file_name"] == "history.jsonl"
    assert marker["records"] == 5 and marker["skipped_duplicates"] == 0


BAD_LINES = [
    ({"ts": "2026-09-21T14:13:20", "target": "vps1", "probe": "web", "ok": True},
     "ts: no time zone"),
    ({"ts": T0_ISO, "target": "vps1", "probe": "web", "ok": False, "error": "boom"},
     "error: must be one of"),
    ('{"ts": "2026-09-21T14:13:20Z", "target": "vps1",', "not valid JSON"),
    ("[1, 2]", "line: expected a JSON object"),
    ({"ts": T0_ISO, "target": "vps1", "probe": "web", "ok": True, "latency": 1},
     "latency: unknown field"),
    ({"ts": T0_ISO, "target": "vps1", "probe": "web"}, "ok: must be true or false"),
    ({"ts": T0_ISO, "ts_ns": T0, "target": "vps1", "probe": "web", "ok": True},
     "ts: give exactly one"),
    ({"target": "vps1", "probe": "web", "ok": True}, "ts: give exactly one"),
    ({"ts_ns": 1.5e18, "target": "vps1", "probe": "web", "ok": True}, "ts_ns: must be a positive"),
    ({"ts": "yesterday", "target": "vps1", "probe": "web", "ok": True}, "ts: not an ISO 8601"),
    ({"ts": T0_ISO, "target": "vps1", "probe": "web", "ok": True, "loss": 1.5},
     "loss: must be between 0 and 1"),
    ({"ts": T0_ISO, "target": "vps1", "probe": "web", "ok": True, "latency_s": "fast"},
     "latency_s: must be a number"),
    ({"ts": T0_ISO, "target": "vps1", "probe": "web", "ok": True, "detail": {"x": 1.5}},
     "detail.x: floats are not stored"),
    ({"ts": T0_ISO, "target": "vps1", "probe": "web", "ok": True, "error": "timeout"},
     "error: a successful attempt"),
    ({"ts": T0_ISO, "target": "vps1", "probe": "web", "ok": False}, "error: a failed attempt"),
    ({"ts": T0_ISO, "target": "new", "probe": "ssh", "ok": True}, "kind: missing"),
    ({"ts": T0_ISO, "target": "vps1", "probe": "web", "ok": True, "role": "boss"},
     "role: must be one of control, target"),
    ({"ts": T0_ISO, "target": "vps 1", "probe": "web", "ok": True}, "target: must be a name"),
]  # fmt: skip


@pytest.mark.parametrize(("bad", "problem"), BAD_LINES)
def test_a_bad_line_is_named_and_nothing_is_appended(
    tmp_path: Path, fresh_store: EvidenceStore, config: Config, bad: Any, problem: str
) -> None:
    fresh_store.append([{"type": "note", "ts_ns": T0, "target": "vps1", "text": "before"}])
    head = fresh_store.head()
    path = write_lines(tmp_path / "bad.jsonl", [GOOD[0], "", bad, GOOD[1]])
    with pytest.raises(ImportFileError) as caught:
        import_jsonl(path, fresh_store, config)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: ") and problem in message
    assert "\n" not in message
    assert fresh_store.head() == head and fresh_store.count() == 1


def test_the_same_file_is_refused_the_second_time(
    tmp_path: Path, fresh_store: EvidenceStore, config: Config
) -> None:
    path = write_lines(tmp_path / "history.jsonl", GOOD)
    import_jsonl(path, fresh_store, config)
    count = fresh_store.count()
    copy = tmp_path / "renamed.jsonl"
    copy.write_bytes(path.read_bytes())
    with pytest.raises(ImportFileError, match=r"already imported .*history\.jsonl"):
        import_jsonl(copy, fresh_store, config)
    assert fresh_store.count() == count and fresh_store.verify().ok


def test_lines_already_in_the_store_or_repeated_are_skipped(
    tmp_path: Path, fresh_store: EvidenceStore, config: Config
) -> None:
    native = probe_record(
        ProbeIdentity("office", "vps1", "web", "http", "target"),
        Stamp(T0, 5),
        Result(ok=True, latency_ns=1000),
        2000,
    )
    fresh_store.append([native])
    path = write_lines(tmp_path / "overlap.jsonl", [GOOD[0], GOOD[3], GOOD[3]])
    report = import_jsonl(path, fresh_store, config)
    assert (report.imported, report.skipped_duplicates) == (1, 2)
    (marker,) = [r.record for r in fresh_store.records(types=["import"])]
    assert (marker["records"], marker["skipped_duplicates"]) == (1, 2)
    assert fresh_store.count() == 3 and fresh_store.verify().ok


def test_empty_and_missing_files_are_one_line_errors(
    tmp_path: Path, fresh_store: EvidenceStore, config: Config
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(ImportFileError, match="no records"):
        import_jsonl(empty, fresh_store, config)
    with pytest.raises(ImportFileError, match="cannot read"):
        import_jsonl(tmp_path / "nope.jsonl", fresh_store, config)
    assert fresh_store.count() == 0


def test_imported_samples_reach_the_report_source(
    tmp_path: Path, fresh_store: EvidenceStore, config: Config
) -> None:
    path = write_lines(tmp_path / "history.jsonl", GOOD)
    report = import_jsonl(path, fresh_store, config)
    fresh_store.close()
    data = load_store_samples(
        [tmp_path / "evidence.db"], config, T0, T0 + 3600 * 10**9, target="vps1"
    )
    samples = data.samples
    assert set(samples["target"]) == {"vps1", "resolver"}  # old-vps is not this target
    assert set(samples["origin"]) == {f"import:{report.file_sha256}"}
    assert data.imported == [
        {"file_sha256": report.file_sha256, "file_name": "history.jsonl", "samples": 4}
    ]
    failed = samples[~samples["ok"]]
    assert failed["error"].tolist() == ["timeout"]
    assert samples["interval_ns"].eq(60 * 10**9).all()
    assert data.stores[0]["ok"] and data.stores[0]["count"] == 6
