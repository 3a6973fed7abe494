"""The store source: real store files in, the samples contract's DataFrame out."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from collector.config.model import Config
from collector.core.results import ErrorClass, Result
from collector.evidence.records import (
    ProbeIdentity,
    Stamp,
    collector_record,
    note_record,
    probe_record,
)
from collector.evidence.store import EvidenceStore
from reports.sources.stores import SAMPLE_COLUMNS, SourceError, load_store_samples
from tests.rig.stores import raw_connection

S = 1_000_000_000
T0 = 1_790_000_000 * S
HOUR = 3600 * S


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
                        {"name": "ping", "kind": "icmp", "interval": "30s", "timeout": "2s"},
                        {"name": "ssh", "kind": "tcp", "port": 22, "interval": "10s"},
                    ],
                },
                {
                    "name": "vps2",
                    "host": "127.0.0.3",
                    "probes": [{"name": "ssh", "kind": "tcp", "port": 22}],
                },
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


def sample(
    vantage: str, target: str, probe: str, ts_ns: int, ok: bool = True, role: str = "target"
) -> dict[str, object]:
    """A native probe record as the collector writes it."""
    kind = "icmp" if probe == "ping" else "tcp"
    result = (
        Result(ok=True, latency_ns=2_000_000, loss_ppm=0 if kind == "icmp" else None)
        if ok
        else Result.failure(ErrorClass.TIMEOUT, "no answer", loss_ppm=1_000_000)
    )
    identity = ProbeIdentity(vantage, target, probe, kind, role)
    return probe_record(identity, Stamp(ts_ns, ts_ns // 7), result, 3_000_000)


def make_store(path: Path, records: list[dict[str, object]]) -> Path:
    with EvidenceStore.create(path) as store:
        store.append(records)
    return path


def test_one_store_gives_the_contract_frame(tmp_path: Path, config: Config) -> None:
    records = [
        sample("office", "vps1", "ssh", T0 + 20 * S, ok=False),
        sample("office", "vps1", "ping", T0),
        sample("office", "resolver", "ping", T0 + 5 * S, role="control"),
        sample("office", "vps2", "ssh", T0),
        note_record(Stamp(T0 + S, 1), "office", "vps1", "ticket opened", "48213"),
        note_record(Stamp(T0 + S, 1), "office", "vps2", "other host", None),
        collector_record("start", Stamp(T0 - S, 1), "office"),
        collector_record("heartbeat", Stamp(T0 + 2 * HOUR, 1), "office"),  # outside
    ]
    path = make_store(tmp_path / "a.db", records)
    data = load_store_samples([path], config, T0, T0 + HOUR, target="vps1")
    frame = data.samples
    assert tuple(frame.columns) == SAMPLE_COLUMNS
    assert frame["ts_ns"].tolist() == [T0, T0 + 5 * S, T0 + 20 * S]  # sorted by time
    assert frame["target"].tolist() == ["vps1", "resolver", "vps1"]  # vps2 left out
    assert frame["role"].tolist() == ["target", "control", "target"]
    assert frame["interval_ns"].tolist() == [30 * S, 60 * S, 10 * S]  # from the config
    assert frame["ok"].tolist() == [True, True, False]
    assert frame["error"].tolist() == [None, None, "timeout"]
    assert frame["latency_ns"].iloc[0] == 2e6 and np.isnan(frame["latency_ns"].iloc[2])
    assert frame["loss_ppm"].tolist() == [0.0, 0.0, 1e6]
    assert set(frame["origin"]) == {"native"} and frame["seq"].tolist() == [2, 3, 1]
    dtypes = {name: str(frame[name].dtype) for name in ("ts_ns", "ok", "latency_ns", "seq")}
    assert dtypes == {"ts_ns": "int64", "ok": "bool", "latency_ns": "float64", "seq": "int64"}
    assert frame["error"].dtype == object and frame["interval_ns"].dtype == np.int64
    assert data.notes[["target", "ticket", "text"]].values.tolist() == [
        ["vps1", "48213", "ticket opened"]
    ]
    assert data.events["event"].tolist() == []  # the start was before the window
    assert data.stores == [
        {
            "path": str(path),
            "ok": True,
            "count": 8,
            "head_seq": 8,
            "head_hash": data.stores[0]["head_hash"],
            "first_bad_seq": None,
            "problem": None,
            "dates": {
                "backdated": 0, "backdated_runs": [], "clock_set_back": 0, "imported_records": 0,
            },
        }
    ]  # fmt: skip
    assert len(data.stores[0]["head_hash"]) == 64 and data.imported == []


def test_window_is_since_inclusive_until_exclusive(tmp_path: Path, config: Config) -> None:
    records = [sample("office", "vps1", "ssh", T0 + i * 10 * S) for i in range(10)]
    records.append(collector_record("heartbeat", Stamp(T0 + 15 * S, 1), "office"))
    path = make_store(tmp_path / "a.db", records)
    data = load_store_samples([path], config, T0 + 10 * S, T0 + 50 * S)
    assert data.samples["ts_ns"].tolist() == [T0 + k * 10 * S for k in (1, 2, 3, 4)]
    assert data.events[["vantage", "event"]].values.tolist() == [["office", "heartbeat"]]


def test_stores_of_two_vantages_merge_and_copies_count_once(tmp_path: Path, config: Config) -> None:
    office = [sample("office", "vps1", "ssh", T0 + i * 10 * S, ok=i != 3) for i in range(6)]
    branch = [sample("branch", "vps1", "ssh", T0 + i * 10 * S + 3 * S) for i in range(6)]
    a = make_store(tmp_path / "office.db", office)
    b = make_store(tmp_path / "branch.db", branch + office[:2])  # two records copied over
    copy = tmp_path / "office-copy.db"
    shutil.copy(a, copy)
    data = load_store_samples([a, b, copy], config, T0, T0 + HOUR, target="vps1")
    frame = data.samples
    assert len(frame) == 12
    assert frame.groupby("vantage").size().to_dict() == {"branch": 6, "office": 6}
    assert not frame.duplicated(["vantage", "ts_ns", "target", "probe"]).any()
    assert frame["ts_ns"].is_monotonic_increasing
    assert frame.loc[~frame["ok"], "vantage"].tolist() == ["office"]
    assert [s["path"] for s in data.stores] == [str(a), str(b), str(copy)]
    assert all(s["ok"] for s in data.stores)


def test_probe_gone_from_the_config_uses_its_median_spacing(tmp_path: Path, config: Config) -> None:
    offsets = [0, 15, 30, 45, 61, 75]
    records = [sample("office", "vps1", "http-old", T0 + k * S) for k in offsets]
    records.append(sample("office", "vps1", "lonely", T0))
    records.append(sample("office", "vps1", "ssh", T0))
    path = make_store(tmp_path / "a.db", records)
    frame = load_store_samples([path], config, T0, T0 + HOUR, target="vps1").samples
    by_probe = frame.groupby("probe")["interval_ns"].unique().to_dict()
    assert by_probe["http-old"].tolist() == [15 * S]
    assert by_probe["lonely"].tolist() == [60 * S]
    assert by_probe["ssh"].tolist() == [10 * S]


def test_a_tampered_store_is_reported_not_hidden(tmp_path: Path, config: Config) -> None:
    path = make_store(
        tmp_path / "a.db", [sample("office", "vps1", "ssh", T0 + i * S) for i in range(5)]
    )
    with raw_connection(path, drop_triggers=True) as conn:
        conn.execute("UPDATE records SET payload = replace(payload, 'true', 'false') WHERE seq = 3")
    data = load_store_samples([path], config, T0, T0 + HOUR)
    (verdict,) = data.stores
    assert verdict["ok"] is False and verdict["first_bad_seq"] == 3
    assert "seq 3" in verdict["problem"] and verdict["count"] == 5


def test_errors_are_one_line_source_errors(tmp_path: Path, config: Config) -> None:
    good = make_store(tmp_path / "a.db", [sample("office", "vps2", "ssh", T0)])
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    cases = [
        ([tmp_path / "missing.db"], "vps1", "no evidence store here"),
        ([tmp_path / "nodir" / "x.db"], "vps1", "does not exist"),
        ([junk], "vps1", "not a slawitness evidence store"),
        ([good], "vps1", "no samples for target 'vps1' between 2026-09-21T14:13:20"),
        ([], "vps1", "no evidence store given"),
    ]
    for paths, target, problem in cases:
        with pytest.raises(SourceError) as caught:
            load_store_samples(paths, config, T0, T0 + HOUR, target=target)
        assert problem in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(SourceError, match="no samples between"):
        load_store_samples([good], config, T0 + HOUR, T0 + 2 * HOUR)


def test_verification_can_be_skipped_for_frequent_refreshes(tmp_path: Path, config: Config) -> None:
    path = make_store(
        tmp_path / "a.db", [sample("office", "vps1", "ssh", T0 + i * S) for i in range(3)]
    )
    data = load_store_samples([path], config, T0, T0 + HOUR, verify=False)
    (entry,) = data.stores
    assert entry["ok"] is None and entry["problem"] == "not verified"
    assert (entry["count"], entry["head_seq"], len(entry["head_hash"])) == (3, 3, 64)
    assert len(data.samples) == 3
