"""Bundles that carry provable evidence: snapshots, signed checkpoints, proofs, verify.py.

Every bundle here is made by `make_bundle` from a real store of three days of one-minute
records (with two outages), a real config and a real Ed25519 key made by
`checkpoints.create_key`, the way `slawitness bundle` makes one. Tampering is done to the zip
or to the unzipped folder the way a reader could do it, with and without recomputing the
manifest; the standalone `verify.py` is run as a user would, with `python3 verify.py`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from collector.config.loader import load_config
from collector.evidence.store import EvidenceStore
from collector.portable.bundle_check import MANIFEST, main, verify_bundle, verify_folder
from collector.portable.bundle_proof_check import NOT_ANCHORED
from collector.portable.chain import chain_hash
from collector.proving import checkpoints
from collector.proving.document_certificate import create_document_certificate
from reports.bundle.verify_script import BuildError, verify_script
from reports.report_run import PeriodChoice, make_bundle
from reports.sla.period import NS
from tests.month_store import write_month
from tests.sla_scenarios import AFTER, BEFORE, combine, control_up, outage, run_checked, samples
from tests.sla_scenarios import at as scenario_at
from tests.vps1_config import CONFIG

START, END = "2026-10-01T00:00:00", "2026-10-04T00:00:00"
CHOICE = PeriodChoice(start=START + "Z", end=END + "Z")
HOSTS = [
    ("vps1", "ping", "icmp", "target"),
    ("vps1", "web", "tcp", "target"),
    ("resolver", "ping", "icmp", "control"),
]
DOWN = {"vps1": [("2026-10-02T10:00:00", "2026-10-02T10:30:00"), ("2026-10-03T23:50:00", END)]}
"""A 30 min outage that ends, and one still going when the records stop."""
_FAILED, _SUCCEEDED = b'\\"ok\\":false', b'\\"ok\\":true'
"""How `"ok":false` reads inside a JSONL line, where the payload is a JSON string."""


@dataclass
class Made:
    """A bundle made by make_bundle, with what went into it."""

    folder: Path
    zip_path: Path
    summary: dict[str, Any]
    warnings: list[str]

    @property
    def members(self) -> dict[str, bytes]:
        with zipfile.ZipFile(self.zip_path) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist()}

    @property
    def chain(self) -> dict[str, Any]:
        return json.loads(self.members["records/chain.json"])["segments"]["records/office.jsonl"]


def _case(folder: Path, *, key: bool, vantage: str = "office") -> Path:
    """A config folder with its store of three days (and its signing key, if asked)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "slawitness.yml").write_text(yaml.safe_dump({**CONFIG, "vantage": vantage}))
    write_month(folder / "evidence.db", vantage=vantage, start=START, end=END, hosts=HOSTS,
                down=DOWN)  # fmt: skip
    if key:
        checkpoints.create_key(folder / "slawitness.key", vantage)
    # the PDFs' certificate, as `init` makes it beside the key
    create_document_certificate(load_config(folder / "slawitness.yml").documents, vantage)
    return folder


def _make(folder: Path, stores: list[Path] | None = None, name: str = "bundle.zip") -> Made:
    config = load_config(folder / "slawitness.yml")
    warnings: list[str] = []
    outcome, info = make_bundle(
        config, folder / "slawitness.yml", "vps1", CHOICE, stores or [config.store],
        folder / name, {"en"}, warn=warnings.append, formats={"json", "csv"},
    )  # fmt: skip
    return Made(folder, info.path, outcome.summary, warnings)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    return _make(_case(tmp_path_factory.mktemp("signed"), key=True))


@pytest.fixture
def unzipped(made: Made, tmp_path: Path) -> Path:
    out = tmp_path / "unzipped"
    with zipfile.ZipFile(made.zip_path) as archive:
        archive.extractall(out)
    return out


def _rewrite(
    made: Made, dst: Path, change: Callable[[dict[str, bytes]], None], *, fix_manifest: bool
) -> Path:
    """A copy of the bundle with members changed, optionally with a recomputed manifest."""
    members = made.members
    change(members)
    if fix_manifest:
        members[MANIFEST] = _manifest(members)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return dst


def _manifest(members: dict[str, bytes]) -> bytes:
    return "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n"
        for name, data in sorted(members.items())
        if name != MANIFEST
    ).encode()


def _cited(made: Made) -> list[int]:
    return [seq for incident in made.summary["incidents"] for seq in incident["evidence_seqs"]]


def _proof(members: dict[str, bytes], seq: int) -> dict[str, Any]:
    return json.loads(members[f"proofs/office/seq-{seq}.json"])


def _run(folder: Path, *flags: str, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "verify.py", *args],
        cwd=folder, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


# --- what a signed bundle holds ------------------------------------------------------


def test_a_signed_bundle_has_every_new_member(made: Made) -> None:
    members, last = made.members, made.chain["last_seq"]
    proved = sorted({*_cited(made), last})
    assert {
        "records/office.sqlite", "proofs/office/checkpoint.txt", "proofs/office/public-key.txt",
        "verify.py", "versions.json", *(f"proofs/office/seq-{seq}.json" for seq in proved),
    } <= set(members)  # fmt: skip
    assert sorted(n for n in members if n.startswith("proofs/office/seq-")) == sorted(
        [f"proofs/office/seq-{seq}.json" for seq in proved]
        + [f"proofs/office/seq-{seq}.tlog-proof" for seq in set(_cited(made))]
    )
    public = (made.folder / "slawitness.key.pub").read_bytes()
    assert members["proofs/office/public-key.txt"] == public
    versions = json.loads(members["versions.json"])
    assert set(versions) >= {"slawitness", "sqlite", "python"}
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    (anchor,) = json.loads(members["verify.json"])["anchors"]
    assert anchor["anchored"] is True and anchor["checkpoint"] == "fresh"
    assert anchor["proved_seqs"] == proved and made.warnings == []


def test_the_fresh_checkpoint_covers_the_segment_but_not_itself(made: Made) -> None:
    with EvidenceStore.open(made.folder / "evidence.db", readonly=True) as store:
        stored = checkpoints.stored(store)
    note = made.members["proofs/office/checkpoint.txt"].decode()
    fresh = next(c for c in stored if c.note == note)
    assert made.chain["last_seq"] == fresh.checkpoint.size == fresh.seq - 1
    assert made.chain["first_seq"] == 1


def test_incidents_cite_their_first_failure_and_the_sample_that_ended_it(made: Made) -> None:
    ended, ongoing = made.summary["incidents"]
    members = made.members
    first, recovery = (json.loads(_proof(members, s)["payload"]) for s in ended["evidence_seqs"])
    assert (first["target"], first["ok"], first["ts_ns"]) == (
        "vps1",
        False,
        _ns("2026-10-02T10:00"),
    )
    assert (recovery["target"], recovery["ok"]) == ("vps1", True)
    assert recovery["ts_ns"] == _ns("2026-10-02T10:30")
    (only,) = ongoing["evidence_seqs"]  # the records stop before it ends
    assert json.loads(_proof(members, only)["payload"])["ts_ns"] == _ns("2026-10-03T23:50")
    assert ended["evidence_vantages"] == ["office", "office"]


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


def test_the_snapshot_is_the_segment_in_a_standalone_sqlite_file(
    made: Made, tmp_path: Path
) -> None:
    members = made.members
    path = tmp_path / "office.sqlite"
    path.write_bytes(members["records/office.sqlite"])
    assert members["records/office.sqlite"][18:20] == b"\x01\x01", "rollback journal, not WAL"
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT seq, hash, payload FROM records ORDER BY seq").fetchall()
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        columns = [r[1] for r in conn.execute("PRAGMA table_info(records)")]
    conn.close()
    lines = [json.loads(line) for line in members["records/office.jsonl"].splitlines()]
    assert rows == [(x["seq"], x["hash"], x["payload"].encode()) for x in lines]
    assert columns == ["seq", "ts_ns", "type", "target", "payload", "hash"]
    chain = made.chain
    assert meta == {
        "store_id": chain["store_id"], "first_seq": "1", "last_seq": str(chain["last_seq"]),
        "prev_hash": chain["prev_hash"], "source_schema_version": meta["source_schema_version"],
    }  # fmt: skip
    assert meta["source_schema_version"].isdigit()


def test_verify_bundle_passes_and_names_the_key(made: Made) -> None:
    check = verify_bundle(made.zip_path)
    assert check.ok, check.problems
    assert check.proofs == len({*_cited(made), made.chain["last_seq"]})
    key_id = (made.folder / "slawitness.key.pub").read_text().split("+")[1]
    assert any("anchored in a checkpoint" in n and key_id in n for n in check.notes), check.notes
    assert main([str(made.zip_path)]) == 0


def test_chain_json_names_the_store_without_the_folders_of_the_machine(made: Made) -> None:
    text = made.members["records/chain.json"].decode()
    assert str(made.folder) not in text and '"/' not in text
    assert (made.chain["store"], made.chain["vantage"]) == ("evidence.db", "office")


def test_no_private_key_material_in_any_member(made: Made) -> None:
    key_file = (made.folder / "slawitness.key").read_bytes()
    key = checkpoints.load_key(made.folder / "slawitness.key")
    blob = key_file.strip().split(b"+", 4)[4]  # base64(0x01 || seed), which may hold "+"
    assert len(blob) == 44
    needles = [
        key_file.strip(),
        blob,
        base64.b64encode(key.seed),
        key.seed,
        key.seed.hex().encode(),
    ]
    for name, data in made.members.items():
        for needle in needles:
            assert needle not in data, f"private key material in {name}"


# --- tampering -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "member",
    [
        "proofs/office/seq-{last}.json",
        "proofs/office/seq-{cited}.json",
        "proofs/office/checkpoint.txt",
        "proofs/office/public-key.txt",
        "records/office.sqlite",
        "records/office.jsonl",
        "verify.py",
        "versions.json",
    ],
)
def test_one_changed_byte_in_any_member_is_named(made: Made, tmp_path: Path, member: str) -> None:
    name = member.format(last=made.chain["last_seq"], cited=_cited(made)[0])

    def change(members: dict[str, bytes]) -> None:
        data = bytearray(members[name])
        data[len(data) // 2] ^= 0x01
        members[name] = bytes(data)

    check = verify_bundle(_rewrite(made, tmp_path / "t.zip", change, fix_manifest=False))
    assert not check.ok
    assert f"{name}: changed (SHA-256 differs from {MANIFEST})" in check.problems, check.problems


def _forge_proof_payload(made: Made) -> tuple[str, Callable[[dict[str, bytes]], None]]:
    """The first cited failure made a success, its hash recomputed to match."""
    seq = _cited(made)[0]
    name = f"proofs/office/seq-{seq}.json"

    def change(members: dict[str, bytes]) -> None:
        proof = _proof(members, seq)
        proof["payload"] = proof["payload"].replace('"ok":false', '"ok":true')
        digest = chain_hash(bytes.fromhex(proof["prev_hash"]), seq, proof["payload"].encode())
        proof["hash"] = digest.hex()
        members[name] = json.dumps(proof).encode()

    return name, change


def _forge_snapshot_row(made: Made) -> tuple[str, Callable[[dict[str, bytes]], None]]:
    seq = _cited(made)[0]

    def change(members: dict[str, bytes]) -> None:
        members["records/office.sqlite"] = _edit_snapshot(
            members["records/office.sqlite"],
            "UPDATE records SET payload = CAST(replace(CAST(payload AS TEXT), '\"ok\":false',"
            " '\"ok\":true') AS BLOB) WHERE seq = ?",
            [(seq,)],
        )

    return "records/office.sqlite", change


def _drop_last_proof(made: Made) -> tuple[str, Callable[[dict[str, bytes]], None]]:
    name = f"proofs/office/seq-{made.chain['last_seq']}.json"
    return name, lambda members: members.pop(name) and None


def _bad_signature(made: Made) -> tuple[str, Callable[[dict[str, bytes]], None]]:
    name = "proofs/office/checkpoint.txt"

    def change(members: dict[str, bytes]) -> None:
        text, sep, signature = members[name].decode().rpartition(" ")
        raw = bytearray(base64.b64decode(signature))
        raw[-1] ^= 0x01
        members[name] = f"{text}{sep}{base64.b64encode(raw).decode()}\n".encode()

    return name, change


def _rechained_records(made: Made) -> tuple[str, Callable[[dict[str, bytes]], None]]:
    """The attacker's best: a failure rewritten as a success, every later hash recomputed
    in the JSONL, chain.json and the snapshot. Only the signed tree still disagrees."""
    seq, last = _cited(made)[0], made.chain["last_seq"]

    def change(members: dict[str, bytes]) -> None:
        lines = [json.loads(line) for line in members["records/office.jsonl"].splitlines()]
        prev = bytes.fromhex(made.chain["prev_hash"])
        for line in lines:
            if line["seq"] == seq:
                line["payload"] = line["payload"].replace('"ok":false', '"ok":true')
            line["hash"] = chain_hash(prev, line["seq"], line["payload"].encode()).hex()
            prev = bytes.fromhex(line["hash"])
        members["records/office.jsonl"] = b"".join(
            json.dumps(x, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for x in lines
        )
        chain = json.loads(members["records/chain.json"])
        chain["segments"]["records/office.jsonl"]["last_hash"] = lines[-1]["hash"]
        members["records/chain.json"] = json.dumps(chain).encode()
        members["records/office.sqlite"] = _edit_snapshot(
            members["records/office.sqlite"],
            "UPDATE records SET hash = ?, payload = ? WHERE seq = ?",
            [(x["hash"], x["payload"].encode(), x["seq"]) for x in lines[seq - 1 :]],
        )

    return f"proofs/office/seq-{last}.json", change


def _edit_snapshot(data: bytes, sql: str, rows: list[tuple[object, ...]]) -> bytes:
    """The snapshot's bytes after `sql` ran for each of `rows` (any SQLite client can)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.sqlite"
        path.write_bytes(data)
        conn = sqlite3.connect(path)
        with conn:
            conn.executemany(sql, rows)
        conn.close()
        return path.read_bytes()


@pytest.mark.parametrize(
    ("forge", "expected"),
    [
        (_forge_proof_payload, "is not in the checkpoint's tree"),
        (_forge_proof_payload, "its record differs from seq"),
        (_forge_snapshot_row, "its hash or payload differs from its records file"),
        (_drop_last_proof, "missing, so the segment's last record"),
        (_bad_signature, "does not verify"),
        (_rechained_records, "its hash is not the segment's last_hash"),
        (_rechained_records, "its record differs from seq"),
    ],
)
def test_a_forgery_with_a_recomputed_manifest_still_fails(
    made: Made,
    tmp_path: Path,
    forge: Callable[[Made], tuple[str, Callable[[dict[str, bytes]], None]]],
    expected: str,
) -> None:
    name, change = forge(made)
    check = verify_bundle(_rewrite(made, tmp_path / "t.zip", change, fix_manifest=True))
    assert not check.ok
    named = [p for p in check.problems if p.startswith(f"{name}: ")]
    assert any(expected in p for p in named), check.problems
    assert not any("SHA-256 differs" in p for p in check.problems)


# --- the standalone verifier, run as a reader would ----------------------------------


def test_verify_py_passes_a_good_bundle(unzipped: Path) -> None:
    done = _run(unzipped)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith("OK: ") and " records, " in last
    assert "signatures not checked" not in done.stdout
    assert verify_folder(unzipped).ok


def test_verify_py_checks_a_zip_or_another_folder(made: Made, unzipped: Path) -> None:
    script = str(unzipped / "verify.py")
    for target in (made.zip_path, unzipped):
        done = subprocess.run([sys.executable, script, str(target)], capture_output=True,
                              text=True, timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0 and done.stdout.splitlines()[-1].startswith("OK: ")


def test_verify_py_fails_a_tampered_folder(unzipped: Path) -> None:
    path = unzipped / "records" / "office.jsonl"
    path.write_bytes(path.read_bytes().replace(_FAILED, _SUCCEEDED, 1))
    done = _run(unzipped)
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1].startswith("FAILED: ")
    assert "problem: records/office.jsonl: changed" in done.stdout


def _fix_folder_manifest(folder: Path) -> None:
    members = {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
    (folder / MANIFEST).write_bytes(_manifest(members))


def test_verify_py_is_built_from_the_modules_without_their_imports(made: Made) -> None:
    text = made.members["verify.py"].decode()
    assert text == verify_script()
    assert text.startswith("#!/usr/bin/env python3\n")
    assert "from collector" not in text and "import collector" not in text
    assert text.count("from __future__ import annotations") == 1
    for definition in ("def chain_hash(", "def verify_inclusion(", "def verify_note(",
                       "def check_proof(", "def check_segment(", "def main("):  # fmt: skip
        assert text.count(definition) == 1, definition


def test_the_builder_refuses_what_would_break_the_script() -> None:
    from reports.bundle.verify_script import _embedded

    source = (
        "from __future__ import annotations\n\nimport json\n"
        "from collector.portable.chain import (\n    GENESIS,\n    chain_hash,\n)\n"
        "from collector.portable.merkle import root\n\nX = json.dumps(GENESIS.hex())\n"
    )
    kept, defined, imported = _embedded("sample", source)
    assert kept == "\nimport json\n\nX = json.dumps(GENESIS.hex())\n"
    assert (defined, imported) == ({"X"}, {"json"})
    with pytest.raises(BuildError, match="imports 'yaml'"):
        _embedded("sample", "import yaml\n")
    with pytest.raises(BuildError, match="both bind"):
        verify_script(("chain", "chain"))


# --- bundles that are not (fully) anchored --------------------------------------------


def test_a_store_without_a_key_still_verifies_and_says_it_is_not_anchored(
    tmp_path: Path,
) -> None:
    made = _make(_case(tmp_path, key=False))
    assert len(made.warnings) == 1
    assert made.warnings[0].startswith(f"records/office.jsonl: {NOT_ANCHORED} (")
    assert "no signing key" in made.warnings[0]
    members = made.members
    assert not any(name.startswith("proofs/") for name in members)
    (anchor,) = json.loads(members["verify.json"])["anchors"]
    assert anchor["anchored"] is False and "no signing key" in anchor["problem"]
    check = verify_bundle(made.zip_path)
    assert check.ok, check.problems
    assert check.notes == [f"records/office.jsonl: {NOT_ANCHORED}"]
    out = tmp_path / "unzipped"
    with zipfile.ZipFile(made.zip_path) as archive:
        archive.extractall(out)
    done = _run(out)
    assert done.returncode == 0 and NOT_ANCHORED in done.stdout


def test_another_store_is_anchored_by_its_latest_checkpoint_when_it_covers(
    tmp_path: Path,
) -> None:
    folder = _case(tmp_path / "office", key=True)
    home = _case(tmp_path / "home", key=True, vantage="home") / "evidence.db"
    key = checkpoints.load_key(home.with_name("slawitness.key"))
    with EvidenceStore.open(home) as store:
        checkpoints.write(store, key, "home")
    made = _make(folder, [folder / "evidence.db", home])
    members = made.members
    anchors = {a["member"]: a for a in json.loads(members["verify.json"])["anchors"]}
    assert anchors["records/home.jsonl"]["checkpoint"] == "stored"
    assert anchors["records/office.jsonl"]["checkpoint"] == "fresh"
    assert (
        members["proofs/home/public-key.txt"] == home.with_name("slawitness.key.pub").read_bytes()
    )
    for name, data in members.items():
        if name.startswith("proofs/home/seq-"):
            assert '"vantage":"home"' in json.loads(data)["payload"], name
    check = verify_bundle(made.zip_path)
    assert check.ok, check.problems
    assert check.proofs == len(anchors["records/home.jsonl"]["proved_seqs"]) + len(
        anchors["records/office.jsonl"]["proved_seqs"]
    )


def test_a_stale_checkpoint_of_another_store_leaves_it_unanchored(tmp_path: Path) -> None:
    folder = _case(tmp_path / "office", key=True)
    home = tmp_path / "home.db"
    key = checkpoints.create_key(tmp_path / "home.key", "home")
    with EvidenceStore.create(home) as store:
        store.append([{"type": "note", "ts_ns": _ns("2026-09-01T00:00"), "target": None}])
        checkpoints.write(store, key, "home")
    write_month(home, vantage="home", start=START, end=END, hosts=HOSTS, down=DOWN)
    made = _make(folder, [folder / "evidence.db", home])
    assert len(made.warnings) == 1
    assert made.warnings[0].startswith(f"records/home.jsonl: {NOT_ANCHORED}")
    assert "covers seq 1-1 only" in made.warnings[0]
    check = verify_bundle(made.zip_path)
    assert check.ok, check.problems
    assert f"records/home.jsonl: {NOT_ANCHORED}" in check.notes
    assert any(n.startswith("records/office.jsonl: seq 1-") for n in check.notes)


def test_the_private_key_can_never_be_bundled(tmp_path: Path, made: Made) -> None:
    """A report file holding the key (a user's slip) stops the bundle."""
    from reports.bundle.proofs import Proofs, private_needles
    from reports.bundle.writer import BundleError, stage_records, write_bundle

    key = checkpoints.load_key(made.folder / "slawitness.key")
    report = tmp_path / "report"
    report.mkdir()
    (report / "notes.txt").write_bytes(b"my key: " + base64.b64encode(key.seed))
    config = load_config(made.folder / "slawitness.yml")
    records = stage_records(tmp_path, [config.store], ["vps1"], 0, 1)
    with pytest.raises(BundleError, match=r"report/notes.txt: contains the private signing key"):
        write_bundle(
            tmp_path / "b.zip", report_dir=report, records=records,
            config_path=made.folder / "slawitness.yml", config=config, verify_results=[],
            period_end_ns=0, proofs=Proofs(forbidden=private_needles(key)),
        )  # fmt: skip
    assert not (tmp_path / "b.zip").exists()


def test_a_copied_bundle_folder_with_an_extra_file_is_named(unzipped: Path) -> None:
    shutil.copy(unzipped / "README.txt", unzipped / "records" / "extra.jsonl")
    check = verify_folder(unzipped)
    assert not check.ok
    assert "records/extra.jsonl: not listed in MANIFEST.sha256" in " ".join(check.problems)


# --- which records an incident cites ---------------------------------------------------


def _seq_at(frame: pd.DataFrame, vantage: str, probe: str, when: str) -> int:
    row = frame[(frame["vantage"] == vantage) & (frame["probe"] == probe)]
    return int(row.set_index("ts_ns")["seq"][scenario_at(when) * NS])


def test_the_vantage_that_failed_first_and_recovered_last_is_cited() -> None:
    frame = combine(
        outage("office", "vps1", "web", ("2026-10-03T10:00:00Z", "2026-10-03T10:10:00Z")),
        outage("home", "vps1", "web", ("2026-10-03T09:58:00Z", "2026-10-03T10:12:00Z")),
        control_up("office"),
        control_up("home"),
    )
    (incident,) = run_checked(frame).summary["incidents"]
    assert (incident["start"], incident["end"]) == ("2026-10-03T09:58:00Z", "2026-10-03T10:12:00Z")
    assert incident["evidence_seqs"] == [
        _seq_at(frame, "home", "web", "2026-10-03T09:58:00Z"),
        _seq_at(frame, "home", "web", "2026-10-03T10:12:00Z"),
    ]
    assert incident["evidence_vantages"] == ["home", "home"]


def test_an_incident_that_ends_because_samples_stop_cites_only_its_first_failure() -> None:
    runs = [
        (BEFORE, "2026-10-03T10:00:00Z", True),
        ("2026-10-03T10:00:00Z", "2026-10-03T10:10:00Z", False),
        ("2026-10-03T12:00:00Z", AFTER, True),
    ]
    frame = combine(samples("office", "vps1", "web", runs), control_up())
    (incident,) = run_checked(frame).summary["incidents"]
    assert incident["end"] == "2026-10-03T10:10:00Z"
    assert incident["evidence_seqs"] == [_seq_at(frame, "office", "web", "2026-10-03T10:00:00Z")]


def test_samples_without_a_record_are_never_cited() -> None:
    """Prometheus samples carry seq -1: there is no record to prove."""
    frame = combine(
        outage("office", "vps1", "web", ("2026-10-03T10:00:00Z", "2026-10-03T10:10:00Z")),
        control_up(),
    )
    frame["seq"] = -1
    (incident,) = run_checked(frame).summary["incidents"]
    assert (incident["evidence_seqs"], incident["evidence_vantages"]) == ([], [])
