"""C2SP tlog-proof files: the format byte for byte, and the bundle's witnessed proofs.

A real store of three days (tests.month_store) gets a checkpoint signed with the collector's
real key, cosigned by two real witness keys (CosignerSigningKey over the stored note, kept as
`cosignature` records, as the collector keeps what its witnesses send), then a bundle made by
make_bundle. Its tlog-proofs are checked by `check-proof` and by the bundle's own verify.py
run by an interpreter without site-packages (so Ed25519 goes through the openssl command),
against a 2-of-2 tlog-policy; a proof short of a cosignature, a flipped path line, a wrong
index, a wrong extra and a forged cosignature each fail with their reason; and a key holder
who rewrites a record after it was witnessed, re-chains and re-signs every checkpoint is
named by verify.py from the bundle alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from collector.config.loader import load_config
from collector.evidence.records import Stamp
from collector.evidence.store import EvidenceStore
from collector.portable.cosignature import CosignerSigningKey, check_cosignature
from collector.portable.signed_note import SigningKey, VerifierKey, split_note
from collector.portable.tlog_policy import parse_policy
from collector.portable.tlog_proof import TlogProof, TlogProofError, check_tlog_proof
from collector.proving import checkpoints
from collector.proving.cosignatures import cosignature_record
from reports.report_run import make_bundle
from tests.clirun import slawitness
from tests.month_store import ns, write_month
from tests.test_bundle_proofs import CHOICE, CONFIG, DOWN, END, HOSTS, START
from tests.test_signed_history import _rewrite

WITNESSES = [
    CosignerSigningKey("witness1.example", hashlib.sha256(b"witness one").digest()),
    CosignerSigningKey("witness2.example", hashlib.sha256(b"witness two").digest()),
]
COSIGNED_AT = ns("2026-10-04T00:05:00")
SPEC_PATH = [
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=",
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=",
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=",
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=",
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=",
]
"""The inclusion proof lines of tlog-proof.md's example."""
SPEC_EXTRA = "YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ"


def _policy_text(witnesses: list[CosignerSigningKey], threshold: str = "all") -> str:
    lines = [f"witness w{i} {w.verifier().encode()}" for i, w in enumerate(witnesses)]
    members = " ".join(f"w{i}" for i in range(len(witnesses)))
    return "\n".join([*lines, f"group both {threshold} {members}", "quorum both", ""])


def test_the_spec_example_parses_and_encodes_byte_for_byte() -> None:
    log = SigningKey("example.com/fancylog", hashlib.sha256(b"fancy").digest())
    body = "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
    note = log.sign(body)
    for witness in WITNESSES:
        note += witness.cosign(body, 1_700_000_000) + "\n"
    head = ["c2sp.org/tlog-proof@v1", f"extra {SPEC_EXTRA}", "index 73894", *SPEC_PATH]
    text = "\n".join(head) + "\n\n" + note
    proof = TlogProof.parse(text)
    assert proof.index == 73894 and proof.note == note
    assert proof.extra == base64.b64decode(SPEC_EXTRA)
    assert [base64.b64encode(h).decode() for h in proof.proof] == SPEC_PATH
    assert proof.encode() == text
    bare = TlogProof(0, (), note)
    assert bare.encode() == "c2sp.org/tlog-proof@v1\nindex 0\n\n" + note
    assert TlogProof.parse(bare.encode()) == bare


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda t: t.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"), "first line"),
        (lambda t: t.replace("index 73894", "index 073894"), "index"),
        (lambda t: t.replace("index 73894\n", ""), "index"),
        (lambda t: t.replace(SPEC_PATH[1], SPEC_PATH[1][:-4]), "not a SHA-256"),
        (lambda t: t.replace(SPEC_PATH[1], SPEC_PATH[1].rstrip("=")), "base64"),
        (lambda t: t.replace("\n\n", "\n"), "empty line"),
        (lambda t: t.replace(f"extra {SPEC_EXTRA}", "extra ###"), "extra"),
    ],
)
def test_a_file_that_strays_from_the_format_is_refused(
    change: Callable[[str], str], reason: str
) -> None:
    log = SigningKey("example.com/fancylog", hashlib.sha256(b"fancy").digest())
    note = log.sign("example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n")
    head = ["c2sp.org/tlog-proof@v1", f"extra {SPEC_EXTRA}", "index 73894", *SPEC_PATH]
    text = "\n".join(head) + "\n\n" + note
    with pytest.raises(TlogProofError, match=reason):
        TlogProof.parse(change(text))


@dataclass
class Witnessed:
    folder: Path
    zip_path: Path
    key: VerifierKey
    cosigned_seq: int
    summary: dict[str, object]


def _witnessed_case(folder: Path, rewrite_seq: int | None = None) -> Witnessed:
    """The three-day store, a checkpoint both witnesses cosigned, then (when asked) the key
    holder's rewrite of one record before it, re-chained and re-signed; then a bundle."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "slawitness.yml").write_text(yaml.safe_dump(CONFIG))
    write_month(folder / "evidence.db", vantage="office", start=START, end=END, hosts=HOSTS,
                down=DOWN)  # fmt: skip
    key = checkpoints.create_key(folder / "slawitness.key", "office")
    stamp = Stamp(ns(END), 1, "boot")
    with EvidenceStore.open(folder / "evidence.db") as store:
        stored = checkpoints.write(store, key, "office", stamp)
        text, _ = split_note(stored.note)
        for number, witness in enumerate(WITNESSES):
            line = witness.cosign(text, COSIGNED_AT // 10**9 + number)
            _, [signature] = split_note(text + "\n" + line + "\n")
            cosignature = check_cosignature(text, signature, witness.verifier())
            url = f"http://127.0.0.1/witness{number}"
            store.append([cosignature_record(stored, cosignature, url, "office", stamp)])
    if rewrite_seq is not None:
        _rewrite(folder / "evidence.db", rewrite_seq, key)
    config = load_config(folder / "slawitness.yml")
    outcome, info = make_bundle(
        config, folder / "slawitness.yml", "vps1", CHOICE, [config.store], folder / "b.zip",
        {"en"}, warn=lambda _: None, formats={"json", "html"},
    )  # fmt: skip
    out = folder / "unzipped"
    with zipfile.ZipFile(info.path) as archive:
        archive.extractall(out)
    return Witnessed(out, info.path, key.verifier(), stored.seq, outcome.summary)


@pytest.fixture(scope="module")
def witnessed(tmp_path_factory: pytest.TempPathFactory) -> Witnessed:
    return _witnessed_case(tmp_path_factory.mktemp("witnessed"))


@pytest.fixture
def bundle(witnessed: Witnessed, tmp_path: Path) -> Path:
    """A copy of the unzipped bundle a test may change."""
    return Path(shutil.copytree(witnessed.folder, tmp_path / "bundle"))


def _verify_py(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """verify.py run with `python3 -I -S`: no site-packages, so no `cryptography`."""
    return subprocess.run(
        [sys.executable, "-I", "-S", "verify.py", *args],
        cwd=folder, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


def _tlog_files(folder: Path) -> list[Path]:
    return sorted((folder / "proofs" / "office").glob("seq-*.tlog-proof"))


def _fix_manifest(folder: Path) -> None:
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if name != "MANIFEST.sha256":
            lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {name}\n")
    (folder / "MANIFEST.sha256").write_text("".join(lines))


def test_each_json_proof_has_a_tlog_proof_against_the_cosigned_checkpoint(
    witnessed: Witnessed,
) -> None:
    folder = witnessed.folder / "proofs" / "office"
    tlog = _tlog_files(witnessed.folder)
    proved = {p.stem for p in folder.glob("seq-*.json")}
    assert tlog and {p.stem for p in tlog} < proved  # the cited ones, not the segment's last
    for path in tlog:
        proof = TlogProof.parse(path.read_text())
        assert path.name == f"seq-{proof.index + 1}.tlog-proof"
        _, signatures = split_note(proof.note)
        assert [s.name for s in signatures] == ["office", *(w.name for w in WITNESSES)]
        size = int(proof.note.split("\n")[1])
        assert size == witnessed.cosigned_seq - 1


def test_verify_py_passes_a_two_of_two_policy_with_openssl_alone(
    witnessed: Witnessed, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.txt"
    policy.write_text(_policy_text(WITNESSES))
    done = _verify_py(witnessed.folder, "--policy", str(policy))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("OK: ")
    assert "cosigned by witness witness1.example at 2026-10-04 00:05:00 UTC" in done.stdout
    assert "cosigned by witness witness2.example at 2026-10-04 00:05:01 UTC" in done.stdout
    assert "checked with the openssl command" in done.stdout


def test_check_proof_passes_a_two_of_two_policy(witnessed: Witnessed, tmp_path: Path) -> None:
    policy = tmp_path / "policy.txt"
    policy.write_text(_policy_text(WITNESSES))
    public = tmp_path / "office.pub"
    public.write_text(witnessed.key.encode() + "\n")
    proof = _tlog_files(witnessed.folder)[0]
    done = slawitness("check-proof", str(proof), "--key", str(public), "--policy", str(policy))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cosigned by witness witness2.example" in done.stdout and "proof OK" in done.stdout


def _drop_second_cosignature(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if WITNESSES[1].name not in line)


def _flip_path_line(text: str) -> str:
    lines = text.split("\n")
    raw = bytearray(base64.b64decode(lines[3]))
    raw[0] ^= 1
    lines[3] = base64.b64encode(raw).decode()
    return "\n".join(lines)


def _wrong_index(text: str) -> str:
    proof = TlogProof.parse(text)
    return TlogProof(proof.index + 1, proof.proof, proof.note, proof.extra).encode()


def _wrong_extra(text: str) -> str:
    proof = TlogProof.parse(text)
    assert proof.extra is not None
    extra = proof.extra.replace(b'\\"ok\\":true', b'\\"ok\\":false', 1)
    extra = extra if extra != proof.extra else proof.extra.replace(b"office", b"offica", 1)
    return TlogProof(proof.index, proof.proof, proof.note, extra).encode()


def _forged_cosignature(text: str) -> str:
    head, _, tail = text.rpartition(f"\u2014 {WITNESSES[1].name} ")
    blob = bytearray(base64.b64decode(tail.rstrip("\n")))
    blob[-1] ^= 1
    return f"{head}\u2014 {WITNESSES[1].name} {base64.b64encode(blob).decode()}\n"


QUORUM = (
    "does not meet the policy's quorum (2 of 2 (witness1.example, witness2.example)):"
    " cosigned by witness1.example"
)
FORGED = "the cosignature by witness witness2.example does not verify"
NOT_IN_TREE = "is not in the checkpoint's tree"


@pytest.mark.parametrize(
    ("change", "in_bundle", "alone"),
    [
        (_drop_second_cosignature, QUORUM, QUORUM),
        (_flip_path_line, NOT_IN_TREE, NOT_IN_TREE),
        (_wrong_index, "the extra line does not give the record's hash", NOT_IN_TREE),
        (_wrong_extra, "the extra line does not give the record's hash", NOT_IN_TREE),
        (_forged_cosignature, FORGED, FORGED),
    ],
)
def test_a_changed_tlog_proof_fails_verify_py_and_check_proof_naming_why(
    bundle: Path, tmp_path: Path, change: Callable[[str], str], in_bundle: str, alone: str
) -> None:
    """verify.py holds the proof to the bundle's record of that seq; check-proof has only
    the file, so a changed extra or index shows as a hash the signed tree does not hold."""
    policy = tmp_path / "policy.txt"
    policy.write_text(_policy_text(WITNESSES))
    path = _tlog_files(bundle)[-1]
    path.write_text(change(path.read_text()))
    _fix_manifest(bundle)
    done = _verify_py(bundle, "--policy", str(policy))
    assert done.returncode == 1, done.stdout
    assert in_bundle in done.stdout and done.stdout.splitlines()[-1].startswith("FAILED: ")
    if change is _wrong_index:
        assert f"{path.name}: holds seq" in done.stdout
    public = tmp_path / "office.pub"
    public.write_text((bundle / "proofs" / "office" / "public-key.txt").read_text())
    checked = slawitness("check-proof", str(path), "--key", str(public), "--policy", str(policy))
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    assert f"FAILED: {alone}" in checked.stdout or alone in checked.stdout


def test_without_a_policy_cosignatures_are_listed_not_required(bundle: Path) -> None:
    path = _tlog_files(bundle)[-1]
    path.write_text(_drop_second_cosignature(path.read_text()))
    _fix_manifest(bundle)
    done = _verify_py(bundle)
    assert done.returncode == 0, done.stdout
    assert "cosignature line by witness1.example" in done.stdout


def test_the_standard_library_checks_a_tlog_proof(witnessed: Witnessed) -> None:
    """The check itself, called directly: a good proof and a 1-of-2 policy that a
    single-cosignature checkpoint would also meet."""
    text = _tlog_files(witnessed.folder)[0].read_text()
    check = check_tlog_proof(text, witnessed.key, parse_policy(_policy_text(WITNESSES, "1")))
    assert check.result.ok, check.result.problems
    assert {c.key.name for c in check.cosigned} == {w.name for w in WITNESSES}
    assert check.record is not None and check.record["vantage"] == "office"


def test_verify_py_names_a_rewrite_after_a_witnessed_checkpoint(tmp_path: Path) -> None:
    """The point: the key holder rewrites record 2000 (before the witnessed checkpoint),
    re-chains and re-signs every checkpoint; the bundle alone shows it."""
    rewritten = _witnessed_case(tmp_path / "rewritten", rewrite_seq=2000)
    done = _verify_py(rewritten.folder)
    assert done.returncode == 1, done.stdout
    expected = (
        f"checkpoint seq {rewritten.cosigned_seq}: the cosignature by witness"
        " witness1.example does not verify over it: REWRITTEN after it was witnessed"
    )
    assert expected in done.stdout


def test_the_report_and_the_bundle_name_who_cosigned_each_checkpoint(witnessed: Witnessed) -> None:
    [store] = witnessed.summary["witnessed"]  # type: ignore[misc]
    [checkpoint] = store["checkpoints"]
    assert checkpoint["checkpoint_seq"] == witnessed.cosigned_seq and not checkpoint["problems"]
    assert [(c["witness"], c["time"]) for c in checkpoint["cosigners"]] == [
        ("witness1.example", "2026-10-04 00:05:00 UTC"),
        ("witness2.example", "2026-10-04 00:05:01 UTC"),
    ]
    html = next(witnessed.folder.rglob("*.html")).read_text()
    size = witnessed.cosigned_seq - 1
    assert (
        f"Checkpoint of {size} records (seq {witnessed.cosigned_seq}) cosigned by witness"
        " witness2.example at 2026-10-04 00:05:01 UTC." in html
    )
    anchors = json.loads((witnessed.folder / "verify.json").read_text())["anchors"]
    assert anchors[0]["witnessed"][0]["cosigners"] == checkpoint["cosigners"]
