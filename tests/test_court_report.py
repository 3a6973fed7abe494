"""The report PDF as a court or a provider's billing department receives it: alone.

Real parts only: probe rounds against a closed port on loopback (every round an outage the
report cites), a real `slawitness witness` cosigning the checkpoints and an `openssl ts`
authority time-stamping them and the PDF. Then the tools the reader already has, none of
them ours: pdfsig, pdfdetach, pdfinfo, pdffonts, pdftotext (poppler), pyHanko's validator,
`openssl ts -verify`. What they must show:
- the PDF is PDF/A-3b (XMP), every font embedded, its creation date the summary's;
- it carries summary.json byte for byte, the cited records, the checkpoint and the proofs,
  and a proof taken out of it checks against the checkpoint with `check-proof`;
- it is signed (pdfsig: valid; one changed byte: not) and time-stamped (pyHanko, openssl);
- its first page names the checkpoint's size and root, the witness, the authority and the
  certificate's fingerprint; with the authority down it is still signed and says it has no
  trusted time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from collector.portable.cosignature import CosignerSigningKey
from collector.portable.signed_note import VerifierKey
from collector.proving import checkpoints
from collector.witnessing.server import RunningWitness, start_witness
from collector.witnessing.trusted_logs import TrustedLogs
from tests.clirun import slawitness
from tests.rig.tsa import LocalTsa
from tests.test_document_signing import _openssl_verifies_the_document_timestamp, _signatures
from tests.test_witnessed_evidence import _configure

WITNESS = "w1.witness.example"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed (poppler-utils: see README's apt line)")
    return found


def _run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)
    return done.stdout + done.stderr


@pytest.fixture
def witnessed(tmp_path: Path, local_tsa: LocalTsa) -> Iterator[tuple[Path, RunningWitness]]:
    """A config whose store holds three rounds of outage, cosigned and time-stamped."""
    config = _configure(tmp_path, [local_tsa])
    log_key = VerifierKey.parse(
        checkpoints.public_key_path(tmp_path / "slawitness.key").read_text()
    )
    key = CosignerSigningKey(WITNESS, os.urandom(32))
    witness = start_witness(key, TrustedLogs.of_keys([log_key]), tmp_path / "witness.sqlite")
    data = yaml.safe_load(config.read_text())
    data["witnesses"] = {"servers": [{"url": witness.url, "key": key.verifier().encode()}]}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        for _ in range(3):
            done = slawitness("probe", "--config", str(config))
            assert done.returncode == 0, done.stdout + done.stderr
        yield config, witness
    finally:
        witness.stop()


def _report(config: Path, out: Path, *, expect_warning: str | None = None) -> dict:
    now = datetime.now(UTC)
    span = [(now + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in (-1, 1)]
    done = slawitness("report", "--config", str(config), "--target", "vps1", "--from", span[0],
                      "--to", span[1], "--out", str(out), "--format", "json,pdf")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    if expect_warning is not None:
        assert expect_warning in done.stderr, done.stderr
    return json.loads((out / "summary.json").read_text())


def _fingerprint(folder: Path) -> str:
    pem = (folder / "slawitness-documents.crt").read_bytes()
    return x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256()).hex()


def test_the_report_pdf_is_pdf_a_3b_and_carries_what_it_rests_on(
    witnessed: tuple[Path, RunningWitness], tmp_path: Path
) -> None:
    config, _ = witnessed
    out = tmp_path / "report"
    summary = _report(config, out)
    pdf = out / "report.en.pdf"

    meta = _run(_tool("pdfinfo"), "-meta", str(pdf))
    assert 'pdfaid:part="3"' in meta and 'pdfaid:conformance="B"' in meta, meta
    # pyHanko's signature rewrites the XMP packet in attribute form, keeping its facts
    assert re.search(r'xmp:CreatorTool(="|>)slawitness \d', meta), meta
    assert re.search(f'xmp:CreateDate(="|>){summary["generated_at"]}', meta), meta
    fonts = _run(_tool("pdffonts"), str(pdf)).splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts

    listed = _run(_tool("pdfdetach"), "-list", str(pdf))
    names = [line.split(": ", 1)[1] for line in listed.splitlines()[1:]]
    assert "summary.json" in names and "checkpoint-evidence.txt" in names, listed
    assert "records-evidence.jsonl" in names and "key-evidence.pub" in names
    taken = tmp_path / "taken"
    taken.mkdir()
    _run(_tool("pdfdetach"), "-saveall", "-o", str(taken), str(pdf))
    assert (taken / "summary.json").read_bytes() == (out / "summary.json").read_bytes()

    cited = summary["incidents"][0]["evidence_seqs"]
    assert cited and f"proof-evidence-seq-{cited[0]}.json" in names
    records = [
        json.loads(line)
        for line in (taken / "records-evidence.jsonl").read_text().split("\n")
        if line
    ]
    assert {r["target"] for r in records} == {"vps1"} and len(records) >= len(set(cited))
    public_key = taken / "key-evidence.pub"
    for suffix in (".json", ".tlog-proof"):
        proof = taken / f"proof-evidence-seq-{cited[0]}{suffix}"
        done = slawitness("check-proof", str(proof), "--key", str(public_key))
        assert done.returncode == 0, done.stdout + done.stderr
    cosigned = (taken / "checkpoint-evidence-cosigned.txt").read_text()
    assert f"— {WITNESS} " in cosigned


def test_the_report_pdf_is_signed_time_stamped_and_says_so_on_its_first_page(
    witnessed: tuple[Path, RunningWitness], tmp_path: Path, local_tsa: LocalTsa
) -> None:
    config, _ = witnessed
    out = tmp_path / "report"
    summary = _report(config, out)
    pdf = out / "report.en.pdf"
    signatures = _signatures(_run(_tool("pdfsig"), str(pdf)))
    assert len(signatures) == 2, signatures
    assert "Signature is Valid." in signatures[0] and "ETSI.CAdES.detached" in signatures[0]
    assert "slawitness test TSA" in signatures[1] and "Total document signed" in signatures[1]
    root = tmp_path / "tsa-root.pem"
    root.write_bytes(local_tsa.roots_pem)
    _openssl_verifies_the_document_timestamp(pdf, root, local_tsa, tmp_path)
    validate = [_tool("pyhanko"), "sign", "validate", "--no-revocation-check", "--pretty-print"]
    validate += ["--trust", str(config.parent / "slawitness-documents.crt")]
    validate += ["--trust", str(root), str(pdf)]
    checked = _run(*validate)
    assert "The signature is judged VALID." in checked, checked

    data = pdf.read_bytes()
    at = data.index(b"/Producer")
    changed = tmp_path / "changed.pdf"
    changed.write_bytes(data[:at] + b"/Producex" + data[at + len(b"/Producer") :])
    assert "Signature is Valid." not in _signatures(_run(_tool("pdfsig"), str(changed)))[0]

    fingerprint = _fingerprint(config.parent)
    assert summary["document_signing"]["certificate_sha256"] == fingerprint
    [origin] = summary["provenance"]
    checkpoint = origin["checkpoint"]
    assert checkpoint["fresh"] and checkpoint["size"] >= max(
        summary["incidents"][0]["evidence_seqs"]
    )
    assert [c["witness"] for c in origin["cosigned"]["cosigners"]] == [WITNESS]
    assert [s["url"] for s in origin["timestamped"]["stamps"]] == [local_tsa.url]
    first_page = _run(_tool("pdftotext"), "-f", "1", "-l", "1", str(pdf), "-")
    flat = "".join(first_page.split())
    assert "Where the figures come from" in first_page
    for fact in (checkpoint["root_hash"], fingerprint, checkpoint["key_sha256"], WITNESS):
        assert fact in flat, fact
    assert "Its time is vouched for by document timestamps" in " ".join(first_page.split())
    zh_page = _run(_tool("pdftotext"), "-f", "1", "-l", "1", str(out / "report.zh.pdf"), "-")
    assert "数据来源与核验方法" in zh_page and checkpoint["root_hash"] in "".join(zh_page.split())


def test_with_the_authority_down_the_pdf_is_still_signed_and_says_it_has_no_trusted_time(
    witnessed: tuple[Path, RunningWitness], tmp_path: Path, local_tsa: LocalTsa
) -> None:
    config, _ = witnessed
    local_tsa.stop()
    out = tmp_path / "report"
    _report(config, out, expect_warning="no trusted time")
    pdf = out / "report.en.pdf"
    signatures = _signatures(_run(_tool("pdfsig"), str(pdf)))
    assert len(signatures) == 1 and "Signature is Valid." in signatures[0], signatures
    first_page = " ".join(_run(_tool("pdftotext"), "-f", "1", "-l", "1", str(pdf), "-").split())
    assert "This PDF carries no trusted time: no time-stamping authority answered" in first_page
    assert "vouched for by document timestamps" not in first_page
    taken = tmp_path / "summary.json"
    _run(_tool("pdfdetach"), "-savefile", "summary.json", "-o", str(taken), str(pdf))
    assert taken.read_bytes() == (out / "summary.json").read_bytes(), "drawn again, same evidence"
