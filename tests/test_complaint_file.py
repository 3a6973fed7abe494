"""The complaint file end to end: documents attached with the real CLI, the report that
lists them beside the incidents, and the bundle that carries them, checked as a reader
checks it (`verify_bundle`, and the bundle's own `verify.py` on the unzipped folder).

The store holds three days of one-minute records with an outage on 2 October from 10:00 to
10:30; the support thread says "we told them at 10:14, they answered the next morning".
Documents are attached after the period, as users do when they build the claim, so their
records sit outside the period's records segment and are proved against the checkpoint.
"""

from __future__ import annotations

import copy
import hashlib
import json
import mailbox
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.config.loader import load_config
from collector.evidence.records import Stamp, note_record
from collector.evidence.store import EvidenceStore
from collector.portable.bundle_check import MANIFEST, verify_bundle
from collector.proving import checkpoints
from collector.proving.document_certificate import create_document_certificate
from reports.report_run import PeriodChoice, make_bundle
from tests.clirun import slawitness
from tests.month_store import write_month

START, END = "2026-10-01T00:00:00", "2026-10-04T00:00:00"
CHOICE = PeriodChoice(start=START + "Z", end=END + "Z")
HOSTS = [("vps1", "ping", "icmp", "target"), ("resolver", "ping", "icmp", "control")]
DOWN = {"vps1": [("2026-10-02T10:00:00", "2026-10-02T10:30:00")]}
CONTRACT = b"%PDF-1.4\n% service agreement, SLA on page 4: 99.9 %\n%%EOF\n"
INVOICE = b"%PDF-1.4\n% invoice 2026-10, 40.00 USD\n%%EOF\n"
OLD_INVOICE = b"%PDF-1.4\n% invoice 2026-05\n%%EOF\n"
CLAIM_SENT = ("2026-10-05T10:00:00", "vps1", "48213", "claim sent with the bundle")
"""The claim's note is dated by the case, never by today's clock, so it stays inside the
claim window whenever the test runs."""


def config(source: dict[str, Any] | None) -> dict[str, Any]:
    sla: dict[str, Any] = {
        "uptime": 99.9, "downtime": {"probes": "any", "min_duration": "5m"},
        "credits": [{"below": 99.9, "credit": 10}], "monthly_fee": 40, "currency": "USD",
        "claim_window_days": 30,
    }  # fmt: skip
    if source is not None:
        sla["source"] = source
    ping = [{"name": "ping", "kind": "icmp", "interval": "60s", "timeout": "2s"}]
    return {
        "vantage": "office",
        "store": "evidence.db",
        "targets": [{"name": "vps1", "host": "203.0.113.10", "probes": ping, "sla": sla,
                     "provider": {"name": "ExampleHost", "account": "C-1234",
                                  "contact": "support@examplehost.test"}}],
        "controls": [{"name": "resolver", "host": "198.51.100.53", "probes": ping}],
    }  # fmt: skip


def thread() -> list[EmailMessage]:
    """Our report at 10:14, an unrelated newsletter, and the provider's answer next day."""
    mails = []
    for sender, to, subject, date, msgid, reply in [
        ("Ops <ops@customer.test>", "support@examplehost.test", "vps1 down since 10:00",
         "Fri, 02 Oct 2026 10:14:00 +0000", "<q1@customer.test>", None),
        ("News <news@examplehost.test>", "ops@customer.test", "Our new plans",
         "Sun, 20 Sep 2026 09:00:00 +0000", "<n1@examplehost.test>", None),
        ("Support <help@mail.examplehost.test>", "ops@customer.test", "Re: vps1 down since 10:00",
         "Sat, 03 Oct 2026 16:00:00 +0800", "<a1@examplehost.test>", "<q1@customer.test>"),
    ]:  # fmt: skip
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"], mail["Date"] = sender, to, subject, date
        mail["Message-ID"] = msgid
        if reply:
            mail["In-Reply-To"] = reply
        mail.set_content("text\n")
        mails.append(mail)
    return mails


def attach(folder: Path, *args: str) -> None:
    done = slawitness("attach", "--config", str(folder / "slawitness.yml"), *args, cwd=folder)
    assert done.returncode == 0, done.stderr


def build(folder: Path, *, key: bool = True, cite: bool = True) -> dict[str, str]:
    """The config folder with its store, key and attachments; the documents' hashes."""
    folder.mkdir(parents=True, exist_ok=True)
    sha = {name: hashlib.sha256(data).hexdigest()
           for name, data in [("contract", CONTRACT), ("invoice", INVOICE)]}  # fmt: skip
    source = {"attachment": sha["contract"][:16], "page": 4, "terms": {"credits": "p. 5 §3"}}
    (folder / "slawitness.yml").write_text(yaml.safe_dump(config(source if cite else None)))
    write_month(folder / "evidence.db", vantage="office", start=START, end=END, hosts=HOSTS,
                down=DOWN, notes=[CLAIM_SENT])  # fmt: skip
    if key:
        checkpoints.create_key(folder / "slawitness.key", "office")
    # the PDFs' certificate, as `init` makes it beside the key
    create_document_certificate(load_config(folder / "slawitness.yml").documents, "office")
    (folder / "contract.pdf").write_bytes(CONTRACT)
    (folder / "invoice-2026-10.pdf").write_bytes(INVOICE)
    (folder / "invoice-2026-05.pdf").write_bytes(OLD_INVOICE)
    box = mailbox.mbox(str(folder / "support.mbox"))
    for mail in thread():
        box.add(mail)
    box.close()
    attach(folder, "--target", "vps1", "--kind", "contract", "--date", "2025-12-01", "contract.pdf")
    attach(folder, "--target", "vps1", "--kind", "invoice", "--date", "2026-10-01",
           "invoice-2026-10.pdf")  # fmt: skip
    attach(folder, "--target", "vps1", "--kind", "invoice", "--date", "2026-05-01",
           "invoice-2026-05.pdf")  # fmt: skip
    attach(folder, "--target", "vps1", "--kind", "correspondence", "support.mbox")
    with EvidenceStore.open(folder / "evidence.db") as store:  # a message sent to the user
        note = note_record(Stamp.now(), "office", "vps1", "vps1 is down", None)
        store.append([{**note, "notify": "incident_opened", "key": "k", "sent": [], "failed": []}])
    sha["mbox"] = hashlib.sha256((folder / "support.mbox").read_bytes()).hexdigest()
    return sha


@dataclass
class Made:
    folder: Path
    zip_path: Path
    summary: dict[str, Any]
    warnings: list[str]
    sha: dict[str, str]

    @property
    def members(self) -> dict[str, bytes]:
        with zipfile.ZipFile(self.zip_path) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist()}


def make(folder: Path, sha: dict[str, str], formats: set[str]) -> Made:
    cfg = load_config(folder / "slawitness.yml")
    warnings: list[str] = []
    outcome, info = make_bundle(
        cfg, folder / "slawitness.yml", "vps1", CHOICE, [cfg.store], folder / "bundle.zip",
        {"en", "zh"}, warn=warnings.append, formats=formats,
    )  # fmt: skip
    return Made(folder, info.path, outcome.summary, warnings, sha)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    folder = tmp_path_factory.mktemp("complaint")
    return make(folder, build(folder), {"json", "html", "letter"})


def test_the_complaint_file_holds_the_contract_the_periods_invoice_and_the_thread(
    made: Made,
) -> None:
    listed = made.summary["complaint_file"]["attachments"]
    assert [(a["kind"], a["name"], a["sha256"]) for a in listed] == [
        ("contract", "contract.pdf", made.sha["contract"]),
        ("invoice", "invoice-2026-10.pdf", made.sha["invoice"]),
        ("correspondence", "support.mbox", made.sha["mbox"]),
    ]
    contract = listed[0]
    assert contract["cited_by_sla"] is True and contract["date"] == "2025-12-01"
    assert contract["member"] == f"attachments/{made.sha['contract']}/contract.pdf"
    assert listed[2]["messages"] == 3
    assert made.summary["complaint_file"]["problems"] == []


def test_the_timeline_puts_the_thread_beside_the_incident(made: Made) -> None:
    timeline = made.summary["complaint_file"]["timeline"]
    rows = [(e["ts"], e["event"], e.get("direction"), e.get("answered_after_seconds"))
            for e in timeline if e["event"] != "note"]  # fmt: skip
    notes = [(e["ticket"], e["text"]) for e in timeline if e["event"] == "note"]
    assert notes == [("48213", "claim sent with the bundle")], "after the period, not notify's"
    assert timeline[-1]["event"] == "note"
    assert rows == [
        ("2026-10-02T10:00:00Z", "incident", None, None),
        ("2026-10-02T10:14:00Z", "message", "customer", None),
        ("2026-10-03T08:00:00Z", "message", "provider", 21 * 3600 + 46 * 60),
    ]
    assert timeline[0]["incident"] == 1 and timeline[0]["duration_seconds"] == 1800


def test_the_sla_terms_cite_the_attached_contract(made: Made) -> None:
    source = made.summary["sla_source"]
    assert source == {
        "attachment": made.sha["contract"], "name": "contract.pdf", "page": 4, "url": None,
        "read_on": None, "terms": {"credits": "p. 5 §3"}, "found": True,
    }  # fmt: skip


def test_the_html_report_shows_the_complaint_file_and_the_timeline(made: Made) -> None:
    html = made.members["report/report.en.html"].decode()
    complaint = html[html.index('id="complaint-file"') :]
    for name in ("contract.pdf", "invoice-2026-10.pdf", "support.mbox", made.sha["contract"]):
        assert name in complaint
    # only the custody log names it: attaching it was a custody event like any other
    assert "invoice-2026-05.pdf" not in html[: html.index('id="custody"')]
    timeline = html[html.index('id="timeline"') :]
    order = [
        timeline.index(text)
        for text in (
            "2026-10-02 10:00:00 UTC",
            "vps1 down since 10:00",
            "Re: vps1 down since 10:00",
        )
    ]
    assert order == sorted(order)  # fmt: skip
    assert "21 h 46 min" in timeline
    summary_box = html[: html.index('id="method"')]
    assert "contract.pdf" in summary_box and made.sha["contract"][:8] in summary_box
    zh = made.members["report/report.zh.html"].decode()
    assert 'id="timeline"' in zh and "support.mbox" in zh


def test_the_letters_cite_the_contract_and_invoice_by_name_and_hash(made: Made) -> None:
    for lang in ("en", "zh"):
        letter = made.members[f"report/letter.{lang}.md"].decode()
        for name in ("contract", "invoice"):
            assert made.sha[name] in letter
        assert "contract.pdf" in letter and "invoice-2026-10.pdf" in letter


def test_the_bundle_carries_every_listed_file_in_its_manifest(made: Made) -> None:
    members = made.members
    manifest = members[MANIFEST].decode()
    for entry in made.summary["complaint_file"]["attachments"]:
        data = members[entry["member"]]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert f"{entry['sha256']}  {entry['member']}\n" in manifest
        proof = json.loads(members[f"proofs/office/seq-{entry['seq']}.json"])
        assert json.loads(proof["payload"])["sha256"] == entry["sha256"]
    assert sorted(n for n in members if n.startswith("attachments/")) == sorted(
        e["member"] for e in made.summary["complaint_file"]["attachments"]
    )
    check = verify_bundle(made.zip_path)
    assert check.ok, check.problems
    assert check.attachments == 3 and made.warnings == []
    assert any("the contract of vps1 (contract.pdf, dated 2025-12-01)" in n for n in check.notes)


def test_verify_py_checks_the_attachments_in_the_unzipped_folder(
    made: Made, tmp_path: Path
) -> None:
    with zipfile.ZipFile(made.zip_path) as archive:
        archive.extractall(tmp_path / "out")
    done = subprocess.run([sys.executable, "verify.py"], cwd=tmp_path / "out",
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert "3 attachments verified" in done.stdout.splitlines()[-1]


def _rezip(made: Made, dst: Path, members: dict[str, bytes], fix_manifest: bool) -> Path:
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


@pytest.mark.parametrize("fix_manifest", [False, True])
def test_a_changed_attachment_is_named(made: Made, tmp_path: Path, fix_manifest: bool) -> None:
    members = copy.copy(made.members)
    name = f"attachments/{made.sha['invoice']}/invoice-2026-10.pdf"
    members[name] = members[name].replace(b"40.00", b"04.00")
    check = verify_bundle(_rezip(made, tmp_path / "x.zip", members, fix_manifest))
    assert not check.ok
    forged = hashlib.sha256(members[name]).hexdigest()
    expected = f"{name}: its SHA-256 is {forged}, not the {made.sha['invoice']} it is filed under"
    assert expected in check.problems
    assert (f"{name}: changed (SHA-256 differs from {MANIFEST})" in check.problems) != fix_manifest


def test_a_forged_document_with_a_recomputed_manifest_is_refused(
    made: Made, tmp_path: Path
) -> None:
    members = copy.copy(made.members)
    fake = b"%PDF-1.4\n% a contract with 95 % uptime\n"
    name = f"attachments/{hashlib.sha256(fake).hexdigest()}/contract.pdf"
    members[name] = fake
    check = verify_bundle(_rezip(made, tmp_path / "x.zip", members, fix_manifest=True))
    assert check.problems == [
        f"{name}: no attachment record in the bundle's checked records names this file"
    ]


def test_without_a_signing_key_documents_outside_the_records_are_left_out_with_a_warning(
    tmp_path: Path,
) -> None:
    sha = build(tmp_path, key=False, cite=False)
    made = make(tmp_path, sha, {"json"})
    assert not [n for n in made.members if n.startswith("attachments/")]
    contract = f"attachments/{sha['contract']}/contract.pdf"
    left_out = f"{contract}: left out of the bundle: its record"
    assert any(w.startswith(left_out) for w in made.warnings)
    assert verify_bundle(made.zip_path).ok


def test_a_document_gone_from_the_store_is_reported_and_not_bundled(tmp_path: Path) -> None:
    sha = build(tmp_path)
    (tmp_path / "evidence.attachments" / sha["invoice"]).unlink()
    made = make(tmp_path, sha, {"json"})
    [problem] = made.summary["complaint_file"]["problems"]
    assert problem["name"] == "invoice-2026-10.pdf" and "MISSING" in problem["problem"]
    invoice = f"attachments/{sha['invoice']}/invoice-2026-10.pdf"
    assert invoice not in made.members
    assert f"attachments/{sha['contract']}/contract.pdf" in made.members
    left_out = f"{invoice}: left out of the bundle: file MISSING"
    assert any(w.startswith(left_out) for w in made.warnings)
    assert verify_bundle(made.zip_path).ok
