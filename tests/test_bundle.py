"""The evidence bundle: written from real stores, checked by coreutils and by verify_bundle.

Every bundle here is built from real SQLite stores filled with the collector's own record
helpers, a report folder on disk and a config whose HTTP probe carries a header secret from
the environment and an inline basic-auth password. Tampering is done to the zip the way a
reader with `zip` could do it, with and without recomputing the manifest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.config.loader import load_config
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
from collector.portable.bundle_check import MANIFEST, check_segment, verify_bundle
from collector.portable.chain import GENESIS, chain_hash
from reports.bundle.writer import BundleError, BundleInfo, stage_records, write_bundle
from tests.rig.stores import raw_connection

TOKEN = "Bearer tok-9f2c61d0e4a7-from-env"
PASSWORD = "inline-pass-7d1e55"
TRACE = "trace-header-5521"
START_NS = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp()) * 1_000_000_000
END_NS = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp()) * 1_000_000_000
MINUTE = 60 * 1_000_000_000

CONFIG_YAML = """\
vantage: office
store: evidence.db
targets:
  - name: vps1
    host: 127.0.0.1
    provider: {name: ExampleHost, account: C-1234}
    probes:
      - {name: ping, kind: icmp, interval: 60s, timeout: 2s}
      - name: web
        kind: http
        url: "http://127.0.0.1:8080/health"
        headers: {Authorization: "${SLAW_BUNDLE_TOKEN}", X-Trace: "%s"}
        basic_auth: {username: watcher, password: "%s"}
        interval: 60s
        timeout: 10s
  - name: vps2
    host: 127.0.0.2
    probes: [{name: ping, kind: icmp, interval: 60s, timeout: 2s}]
controls:
  - name: resolver
    host: 127.0.0.53
    probes: [{name: ping, kind: icmp, interval: 60s, timeout: 2s}]
""" % (TRACE, PASSWORD)  # noqa: UP031 -- the YAML is full of braces


@dataclass
class Rig:
    """A config, stores, a report folder and the bundle inputs built from them."""

    tmp: Path
    config_path: Path
    config: Config
    report_dir: Path
    stores: list[Path]
    needed: dict[Path, list[int]]
    """Per store, the seqs the report depends on (target, control, collector, window)."""
    other: dict[Path, list[int]]
    """Per store, the seqs of vps2 (another target) and its note inside the window."""

    def bundle(
        self,
        name: str = "bundle.zip",
        window_start_ns: int = START_NS,
        window_end_ns: int = END_NS,
        force: bool = False,
    ) -> BundleInfo:
        verify = []
        for path in self.stores:
            with EvidenceStore.open(path, readonly=True) as store:
                verify.append({"path": str(path), **dataclasses.asdict(store.verify())})
        hosts = ["vps1", *(c.name for c in self.config.controls)]
        with tempfile.TemporaryDirectory() as staging:
            records = stage_records(
                Path(staging), self.stores, hosts, window_start_ns, window_end_ns
            )
            return write_bundle(
                self.tmp / name,
                report_dir=self.report_dir,
                records=records,
                config_path=self.config_path,
                config=self.config,
                verify_results=verify,
                period_end_ns=END_NS,
                force=force,
            )


def _fill_store(path: Path, vantage: str, config: Config) -> tuple[list[int], list[int]]:
    """Records before, inside and after October 2026; returns (needed seqs, vps2 seqs)."""
    needed, other = [], []
    secrets = config.secrets()
    with EvidenceStore.create(path) as store:

        def add(record: dict[str, object], kind: str) -> None:
            seq = store.append([record])[0].seq
            if kind == "needed":
                needed.append(seq)
            elif kind == "other":
                other.append(seq)

        def probe(host: str, role: str, ts: int, result: Result) -> dict[str, object]:
            identity = ProbeIdentity(vantage, host, "ping", "icmp", role)
            return probe_record(identity, Stamp(ts, ts // 7), result, 2_000_000, secrets)

        up = Result(ok=True, latency_ns=1_500_000)
        leaked = Result.failure(ErrorClass.HTTP_STATUS, f"401 with {TOKEN} echoed back")
        add(probe("vps1", "target", START_NS - 5 * MINUTE, up), "before")
        add(probe("vps2", "target", START_NS - 4 * MINUTE, up), "before")
        add(collector_record("start", Stamp(START_NS + MINUTE, 1), vantage), "needed")
        for i in range(2, 8):
            ts = START_NS + i * MINUTE
            add(probe("vps1", "target", ts, up if i != 4 else leaked), "needed")
            add(probe("vps2", "target", ts + 1, up), "other")
            add(probe("resolver", "control", ts + 2, up), "needed")
        add(
            note_record(Stamp(START_NS + 9 * MINUTE, 9), vantage, "vps2", "other host", None),
            "other",
        )
        ticket = note_record(
            Stamp(START_NS + 10 * MINUTE, 10), vantage, "vps1", "工单 1\u2028第二行", "1"
        )
        add(ticket, "needed")
        add(probe("vps2", "target", START_NS + 11 * MINUTE, up), "after")
        add(probe("vps1", "target", END_NS, up), "after")
    return needed, other


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Rig:
    monkeypatch.setenv("SLAW_BUNDLE_TOKEN", TOKEN)
    config_path = tmp_path / "slawitness.yml"
    config_path.write_text(CONFIG_YAML)
    config = load_config(config_path)
    report_dir = tmp_path / "report"
    (report_dir / "charts").mkdir(parents=True)
    (report_dir / "summary.json").write_text('{"target": "vps1", "downtime_seconds": 60}\n')
    (report_dir / "report.html").write_text("<html><body>vps1 was down</body></html>\n")
    (report_dir / "charts" / "uptime.png").write_bytes(bytes(range(256)) * 4)
    (report_dir / "letter.zh.txt").write_text("致 ExampleHost:服务中断。\n", encoding="utf-8")
    store = tmp_path / "evidence.db"
    needed, other = _fill_store(store, "office", config)
    return Rig(tmp_path, config_path, config, report_dir, [store], {store: needed}, {store: other})


def _members(zip_path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(zip_path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _rewrite(
    src: Path, dst: Path, change: Callable[[dict[str, bytes]], None], *, fix_manifest: bool = False
) -> Path:
    """A copy of a bundle with members changed, optionally with a recomputed manifest."""
    members = _members(src)
    change(members)
    if fix_manifest:
        members[MANIFEST] = "".join(
            f"{hashlib.sha256(data).hexdigest()}  {name}\n"
            for name, data in sorted(members.items())
            if name != MANIFEST
        ).encode()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return dst


def _lines(data: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in data.split(b"\n") if line]


def test_layout_and_coreutils_sha256sum_accepts_the_manifest(rig: Rig, tmp_path: Path) -> None:
    info = rig.bundle()
    names = set(_members(info.path))
    assert names == {
        "MANIFEST.sha256", "README.txt", "config.yml", "verify.json", "verify.py",
        "versions.json", "records/chain.json", "records/office.jsonl", "records/office.sqlite",
        "report/summary.json", "report/report.html", "report/charts/uptime.png",
        "report/letter.zh.txt",
    }  # fmt: skip
    assert info.files == len(names)
    assert info.sha256 == hashlib.sha256(info.path.read_bytes()).hexdigest()
    out = tmp_path / "unzipped"
    subprocess.run(["unzip", "-q", str(info.path), "-d", str(out)], check=True)
    checked = subprocess.run(["sha256sum", "-c", MANIFEST], cwd=out, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert sorted(checked.stdout.splitlines()) == sorted(f"{n}: OK" for n in names - {MANIFEST})
    (out / "report" / "report.html").write_text("<html>vps1 was up</html>\n")
    tampered = subprocess.run(
        ["sha256sum", "-c", MANIFEST], cwd=out, capture_output=True, text=True
    )
    assert tampered.returncode == 1
    assert "report/report.html: FAILED" in tampered.stdout


def test_verify_bundle_accepts_a_fresh_bundle(rig: Rig) -> None:
    info = rig.bundle()
    check = verify_bundle(info.path)
    assert check.ok and check.problems == [], check.problems
    assert check.files == info.files - 1
    assert check.records == info.records
    (segment,) = info.segments
    assert segment.ok and segment.member == "records/office.jsonl"
    verify = json.loads(_members(info.path)["verify.json"])
    assert verify["stores"][0]["ok"] is True
    assert verify["segments"][0]["ok"] is True


def test_records_are_the_contiguous_segment_exactly_as_stored(rig: Rig) -> None:
    info = rig.bundle()
    members = _members(info.path)
    lines = _lines(members["records/office.jsonl"])
    store = rig.stores[0]
    needed, other = rig.needed[store], rig.other[store]
    seqs = [line["seq"] for line in lines]
    assert seqs == list(range(needed[0], needed[-1] + 1))
    assert set(needed) <= set(seqs)
    inside = [s for s in other if needed[0] <= s <= needed[-1]]
    assert inside and set(inside) <= set(seqs), "other targets' records fill the segment"
    with raw_connection(store) as conn:
        stored = {
            seq: (h, p) for seq, h, p in conn.execute("SELECT seq, hash, payload FROM records")
        }
    prev = bytes.fromhex(stored[needed[0] - 1][0])
    for line in lines:
        payload = str(line["payload"]).encode("utf-8")
        assert (line["hash"], payload) == stored[line["seq"]]
        assert chain_hash(prev, int(line["seq"]), payload).hex() == line["hash"]  # type: ignore[call-overload]
        prev = bytes.fromhex(str(line["hash"]))
    chain = json.loads(members["records/chain.json"])["segments"]["records/office.jsonl"]
    assert chain["prev_hash"] == stored[needed[0] - 1][0]
    assert (chain["first_seq"], chain["last_seq"]) == (needed[0], needed[-1])
    assert chain["last_hash"] == stored[needed[-1]][0]
    assert chain["records"] == len(lines) == info.records
    assert "工单 1" in members["records/office.jsonl"].decode("utf-8")


def test_no_secret_reaches_any_member(rig: Rig) -> None:
    info = rig.bundle()
    members = _members(info.path)
    for name, data in members.items():
        for secret in (TOKEN, PASSWORD, TRACE, "tok-9f2c61d0e4a7"):
            assert secret.encode() not in data, f"{secret} leaked into {name}"
    config_text = members["config.yml"].decode("utf-8")
    assert "Authorization: <redacted>" in config_text
    assert "X-Trace: <redacted>" in config_text
    assert "password: <redacted>" in config_text
    assert "username: watcher" in config_text
    assert "http://127.0.0.1:8080/health" in config_text
    assert "<redacted>" in members["records/office.jsonl"].decode("utf-8")


def test_a_secret_in_a_report_file_stops_the_bundle(rig: Rig) -> None:
    (rig.report_dir / "report.html").write_text(f"<pre>{PASSWORD}</pre>")
    with pytest.raises(BundleError, match=r"report/report.html: contains .* secret \(inline\)"):
        rig.bundle()
    assert not (rig.tmp / "bundle.zip").exists()
    assert not list(rig.tmp.glob("*.partial"))


def test_an_unwritable_destination_is_one_clear_error(rig: Rig) -> None:
    with pytest.raises(BundleError, match=r"missing/bundle.zip: cannot write the bundle"):
        rig.bundle("missing/bundle.zip")
    assert not (rig.tmp / "missing").exists()


def test_a_bundle_unzipped_and_zipped_again_still_verifies(rig: Rig, tmp_path: Path) -> None:
    """A reader may unpack the bundle and re-pack it with `zip -r` (directory entries too)."""
    out = tmp_path / "unpacked"
    subprocess.run(["unzip", "-q", str(rig.bundle().path), "-d", str(out)], check=True)
    repacked = tmp_path / "repacked.zip"
    subprocess.run(["zip", "-q", "-r", str(repacked), "."], cwd=out, check=True)
    check = verify_bundle(repacked)
    assert check.ok, check.problems
    assert check.records == len(rig.needed[rig.stores[0]]) + len(rig.other[rig.stores[0]])


def test_same_inputs_give_the_same_bytes(rig: Rig) -> None:
    first, second = rig.bundle("a.zip"), rig.bundle("b.zip")
    assert first.path.read_bytes() == second.path.read_bytes()
    with zipfile.ZipFile(first.path) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(2026, 11, 1, 0, 0, 0)}


def test_a_bundle_written_into_the_report_folder_does_not_pack_itself(rig: Rig) -> None:
    first = rig.bundle("report/bundle.zip").path.read_bytes()
    second = rig.bundle("report/bundle.zip", force=True)
    assert second.path.read_bytes() == first
    assert not any(name.endswith(".zip") for name in _members(second.path))
    assert verify_bundle(second.path).ok


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("report/report.html", b"<html>vps1 was up</html>\n", "report/report.html: changed"),
        ("report/extra.txt", b"added later\n", "report/extra.txt: not listed in MANIFEST.sha256"),
        ("report/summary.json", None, "report/summary.json: listed in MANIFEST.sha256 but missing"),
    ],
)
def test_manifest_names_each_changed_missing_or_extra_file(
    rig: Rig, name: str, content: bytes | None, expected: str
) -> None:
    def change(members: dict[str, bytes]) -> None:
        if content is None:
            del members[name]
        else:
            members[name] = content

    check = verify_bundle(_rewrite(rig.bundle().path, rig.tmp / "tampered.zip", change))
    assert not check.ok
    assert len(check.problems) == 1 and check.problems[0].startswith(expected), check.problems


def _edit_record(
    seq: int, edit: Callable[[list[bytes], int], None], member: str = "records/office.jsonl"
) -> Callable[[dict[str, bytes]], None]:
    """A change to one records line of a bundle, found by its seq."""

    def change(members: dict[str, bytes]) -> None:
        lines = members[member].split(b"\n")
        index = next(i for i, line in enumerate(lines) if json.loads(line)["seq"] == seq)
        edit(lines, index)
        members[member] = b"\n".join(lines)

    return change


def _flip_ok(lines: list[bytes], index: int) -> None:
    line = json.loads(lines[index])
    line["payload"] = line["payload"].replace('"ok":true', '"ok":false')
    lines[index] = json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode()


def _drop(lines: list[bytes], index: int) -> None:
    del lines[index]


@pytest.mark.parametrize("fix_manifest", [False, True])
def test_changed_record_payload_is_named_by_seq(rig: Rig, fix_manifest: bool) -> None:
    seq = rig.needed[rig.stores[0]][3]
    tampered = _rewrite(
        rig.bundle().path, rig.tmp / "t.zip", _edit_record(seq, _flip_ok), fix_manifest=fix_manifest
    )
    check = verify_bundle(tampered)
    assert not check.ok
    assert f"records/office.jsonl: seq {seq}: hash does not match" in "\n".join(check.problems)
    manifest_named = any("records/office.jsonl: changed" in p for p in check.problems)
    assert manifest_named is not fix_manifest


@pytest.mark.parametrize("where", ["middle", "first", "last"])
def test_dropped_record_line_is_named(rig: Rig, where: str) -> None:
    needed = rig.needed[rig.stores[0]]
    seq = {"middle": needed[4], "first": needed[0], "last": needed[-1]}[where]
    bundle = rig.bundle().path
    tampered = _rewrite(bundle, rig.tmp / "t.zip", _edit_record(seq, _drop), fix_manifest=True)
    check = verify_bundle(tampered)
    assert not check.ok
    assert len(check.problems) == 2, check.problems
    assert check.problems[0].startswith(f"records/office.jsonl: seq {seq}")
    assert "missing" in check.problems[0] or "previous hash" in check.problems[0]
    assert check.problems[1].startswith("records/office.sqlite: "), "it still holds the line"


def test_two_stores_give_two_verified_records_files(rig: Rig) -> None:
    home = rig.tmp / "home.db"
    needed, _ = _fill_store(home, "home", rig.config)
    rig.stores.append(home)
    info = rig.bundle()
    assert [s.member for s in info.segments] == ["records/office.jsonl", "records/home.jsonl"]
    assert all(s.ok for s in info.segments)
    check = verify_bundle(info.path)
    assert check.ok, check.problems
    members = _members(info.path)
    home_lines = _lines(members["records/home.jsonl"])
    assert {line["seq"] for line in home_lines} >= set(needed)
    assert all('"vantage":"home"' in str(line["payload"]) for line in home_lines[1:])
    change = _edit_record(needed[2], _flip_ok, "records/home.jsonl")
    tampered = _rewrite(info.path, rig.tmp / "t.zip", change, fix_manifest=True)
    problems = verify_bundle(tampered).problems
    assert problems == [
        f"records/home.jsonl: seq {needed[2]}: hash does not match its payload"
        " and the previous hash",
        f"records/home.sqlite: seq {needed[2]}: its hash or payload differs from its records file",
    ]


def test_two_stores_of_one_vantage_get_distinct_files(rig: Rig) -> None:
    twin = rig.tmp / "twin.db"
    _fill_store(twin, "office", rig.config)
    rig.stores.append(twin)
    info = rig.bundle()
    assert [s.member for s in info.segments] == ["records/office.jsonl", "records/office-2.jsonl"]
    assert verify_bundle(info.path).ok


def test_a_broken_store_is_bundled_as_it_is_and_flagged(rig: Rig) -> None:
    store = rig.stores[0]
    seq = rig.needed[store][2]
    with raw_connection(store, drop_triggers=True) as conn:
        conn.execute(
            "UPDATE records SET payload = CAST(replace(CAST(payload AS TEXT), '\"ok\":true',"
            " '\"ok\":false') AS BLOB) WHERE seq = ?",
            (seq,),
        )
    info = rig.bundle()
    (segment,) = info.segments
    assert not segment.ok and segment.problem is not None and f"seq {seq}" in segment.problem
    verify = json.loads(_members(info.path)["verify.json"])
    assert verify["stores"][0]["first_bad_seq"] == seq
    assert verify["segments"][0]["ok"] is False
    problems = verify_bundle(info.path).problems
    assert problems == [f"records/office.jsonl: {segment.problem}"]


def test_the_import_record_of_imported_samples_joins_the_segment(rig: Rig) -> None:
    """Samples imported after the month carry `import:<sha>`; their import record is later."""
    sha = "ab" * 32
    identity = ProbeIdentity("office", "vps1", "ping", "icmp", "target")
    sample = probe_record(
        identity, Stamp(START_NS + 30 * MINUTE, 0), Result(ok=False, error=ErrorClass.TIMEOUT), 0
    )
    imported = {**sample, "origin": f"import:{sha}"}
    late = {"type": "import", "ts_ns": END_NS + 86400 * 10**9, "target": None, "file_sha256": sha}
    with EvidenceStore.open(rig.stores[0]) as store:
        *_, import_seq = store.append([imported, late])
        (unrelated,) = store.append([{**late, "file_sha256": "cd" * 32}])
    info = rig.bundle()
    assert info.segments[0].last_seq == import_seq.seq < unrelated.seq
    assert verify_bundle(info.path).ok


def test_a_window_without_records_gives_an_empty_verified_segment(rig: Rig) -> None:
    info = rig.bundle(window_start_ns=END_NS + 3600 * 10**9, window_end_ns=END_NS + 7200 * 10**9)
    (segment,) = info.segments
    assert (segment.first_seq, segment.records, segment.ok) == (None, 0, True)
    assert _members(info.path)["records/evidence.jsonl"] == b""
    assert verify_bundle(info.path).ok


def test_segment_from_seq_one_chains_to_genesis(rig: Rig) -> None:
    info = rig.bundle(window_start_ns=START_NS - 10 * MINUTE)
    chain = json.loads(_members(info.path)["records/chain.json"])["segments"]
    assert chain["records/office.jsonl"]["first_seq"] == 1
    assert chain["records/office.jsonl"]["prev_hash"] == GENESIS.hex()
    assert verify_bundle(info.path).ok


@pytest.mark.parametrize(
    "content", [None, b"", b"not a zip\n", b"PK\x03\x04" + bytes(40), bytes(range(256)) * 8]
)
def test_a_file_that_is_not_a_zip_gives_one_clear_problem(
    tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "bundle.zip"
    if content is not None:
        path.write_bytes(content)
    check = verify_bundle(path)
    assert (check.ok, check.files, check.records) == (False, 0, 0)
    assert len(check.problems) == 1 and "not a readable zip file" in check.problems[0]


def test_a_truncated_bundle_is_refused_without_a_traceback(rig: Rig) -> None:
    data = rig.bundle().path.read_bytes()
    cut = rig.tmp / "cut.zip"
    cut.write_bytes(data[: len(data) // 2])
    check = verify_bundle(cut)
    assert not check.ok and check.problems


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/evil", "report/../../x", "a\\..\\b"])
def test_member_names_that_could_escape_are_named_and_never_extracted(
    rig: Rig, tmp_path: Path, name: str
) -> None:
    tampered = _rewrite(rig.bundle().path, rig.tmp / "slip.zip", lambda m: m.update({name: b"x"}))
    check = verify_bundle(tampered)
    assert not check.ok
    assert any(p.startswith(repr(name)) and "unsafe member name" in p for p in check.problems)
    assert not (tmp_path.parent / "escape.txt").exists()


def test_check_segment_counts_and_refuses_records_for_an_empty_declaration() -> None:
    payload = b'{"ts_ns":1,"type":"probe"}'
    digest = chain_hash(GENESIS, 1, payload).hex()
    line = json.dumps({"seq": 1, "hash": digest, "payload": payload.decode()}).encode()
    declared = {"first_seq": 1, "last_seq": 1, "prev_hash": GENESIS.hex(), "last_hash": digest}
    assert check_segment([line], declared) == (1, None)
    empty = {"first_seq": None, "last_seq": None, "prev_hash": None, "last_hash": None}
    assert check_segment([line], empty)[1] == "has records but chain.json declares an empty segment"
    assert check_segment([b"{not json"], declared)[1].startswith("line 1 (after seq 0)")  # type: ignore[union-attr]
