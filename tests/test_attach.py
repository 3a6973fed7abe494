"""`slawitness attach` and `verify` over attached documents, run as a user runs them.

Every file is made by the test: PDFs and PNGs drawn by matplotlib, .eml and .mbox files
written with the standard library's own e-mail classes. The command runs in a child process
against a real store; the attachments folder is then inspected, damaged and checked again.
"""

from __future__ import annotations

import hashlib
import io
import json
import mailbox
import os
from email.message import EmailMessage
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import yaml

from collector.documents.attachments import bundle_member, folder_of
from collector.evidence.store import EvidenceStore
from tests.clirun import slawitness

TARGET = {
    "name": "vps1",
    "host": "127.0.0.1",
    "provider": {"name": "ExampleHost", "contact": "support@examplehost.test"},
    "probes": [{"name": "ssh", "kind": "tcp", "port": 22, "interval": "60s", "timeout": "5s"}],
}


def drawing(kind: str, label: str) -> bytes:
    """A real PDF or PNG file, one page with `label` on it."""
    figure, ax = plt.subplots(figsize=(2, 1))
    ax.text(0.1, 0.5, label)
    out = io.BytesIO()
    figure.savefig(out, format=kind)
    plt.close(figure)
    return out.getvalue()


def message(
    sender: str, to: str, subject: str, date: str, msgid: str, **extra: str
) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"], mail["Date"] = sender, to, subject, date
    mail["Message-ID"] = msgid
    for name, value in extra.items():
        mail[name.replace("_", "-")] = value
    mail.set_content("The server is down.\n")
    return mail


def write_mbox(path: Path, messages: list[EmailMessage]) -> Path:
    box = mailbox.mbox(str(path))
    for mail in messages:
        box.add(mail)
    box.flush()
    box.close()
    return path


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    """A config folder; its store is made by the first attach."""
    data = {"vantage": "office", "store": "evidence.db", "targets": [TARGET],
            "attachments": {"max_size": "1MiB"}}  # fmt: skip
    (tmp_path / "slawitness.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    return tmp_path


def attach(folder: Path, *args: str) -> tuple[int, str, str]:
    done = slawitness("attach", "--config", str(folder / "slawitness.yml"), *args, cwd=folder)
    return done.returncode, done.stdout, done.stderr


def records(folder: Path) -> list[dict[str, object]]:
    path = folder / "evidence.db"
    if not path.exists():
        return []
    with EvidenceStore.open(path, readonly=True) as store:
        return [{**row.record, "seq": row.seq} for row in store.records(types=["attachment"])]


def verify(folder: Path) -> tuple[int, str]:
    done = slawitness("verify", "--config", str(folder / "slawitness.yml"))
    return done.returncode, done.stdout + done.stderr


def test_pdfs_and_images_are_stored_under_their_hash_read_only_and_recorded(setup: Path) -> None:
    files = {
        "contract.pdf": drawing("pdf", "contract"),
        "invoice-2026-10.pdf": drawing("pdf", "Oct"),
        "screenshot.png": drawing("png", "down"),
    }
    for name, data in files.items():
        (setup / name).write_bytes(data)
    code, out, err = attach(setup, "--target", "vps1", "--kind", "contract", "--date",
                            "2026-01-15", "--note", "signed agreement", "contract.pdf")  # fmt: skip
    assert code == 0, err
    invoice, screenshot = str(setup / "invoice-2026-10.pdf"), str(setup / "screenshot.png")
    code, out, err = attach(setup, "--target", "vps1", "--kind", "invoice", invoice, screenshot)
    assert code == 0, err
    folder = folder_of(setup / "evidence.db")
    assert folder == setup / "evidence.attachments"
    stored = records(setup)
    assert [r["name"] for r in stored] == list(files)
    for record in stored:
        data = files[str(record["name"])]
        digest = hashlib.sha256(data).hexdigest()
        assert record["sha256"] == digest and record["size"] == len(data)
        assert (folder / digest).read_bytes() == data
        assert (folder / digest).stat().st_mode & 0o777 == 0o444
        assert f"sha256 {digest}" in out or record["name"] == "contract.pdf"
    kinds = {r["name"]: (r["kind"], r["media_type"], r["date"], r["note"]) for r in stored}
    assert kinds == {
        "contract.pdf": ("contract", "application/pdf", "2026-01-15", "signed agreement"),
        "invoice-2026-10.pdf": ("invoice", "application/pdf", None, None),
        "screenshot.png": ("invoice", "image/png", None, None),
    }
    assert sorted(p.name for p in folder.iterdir()) == sorted(r["sha256"] for r in stored)
    code, text = verify(setup)
    assert code == 0 and "3 attachments, every file present and unchanged" in text


def test_the_same_file_again_is_stored_once_and_not_recorded_twice(setup: Path) -> None:
    (setup / "a.pdf").write_bytes(drawing("pdf", "a"))
    (setup / "copy-of-a.pdf").write_bytes((setup / "a.pdf").read_bytes())
    assert attach(setup, "--target", "vps1", "--kind", "contract", "a.pdf")[0] == 0
    code, out, _ = attach(setup, "--target", "vps1", "--kind", "contract", "copy-of-a.pdf")
    assert code == 0 and "already attached to vps1 as contract (seq 1)" in out
    assert len(records(setup)) == 1
    code, out, _ = attach(setup, "--target", "vps1", "--kind", "other", "a.pdf")
    assert code == 0 and [r["kind"] for r in records(setup)] == ["contract", "other"]
    assert len(list(folder_of(setup / "evidence.db").iterdir())) == 1


@pytest.mark.parametrize("damage", ["changed", "missing"])
def test_verify_names_a_changed_or_missing_attachment(setup: Path, damage: str) -> None:
    (setup / "contract.pdf").write_bytes(drawing("pdf", "terms"))
    (setup / "invoice.pdf").write_bytes(drawing("pdf", "invoice"))
    assert attach(setup, "--target", "vps1", "--kind", "contract", "contract.pdf")[0] == 0
    assert attach(setup, "--target", "vps1", "--kind", "invoice", "invoice.pdf")[0] == 0
    victim = next(r for r in records(setup) if r["name"] == "invoice.pdf")
    path = folder_of(setup / "evidence.db") / str(victim["sha256"])
    if damage == "changed":
        path.chmod(0o644)
        path.write_bytes(path.read_bytes().replace(b"invoice", b"INVOICE", 1) + b"\n")
        now = hashlib.sha256(path.read_bytes()).hexdigest()
        expected = f"file CHANGED: its SHA-256 is now {now}"
    else:
        path.unlink()
        expected = "file MISSING from"
    code, text = verify(setup)
    assert code == 1
    line = next(li for li in text.splitlines() if "attachment seq" in li)
    assert f"attachment seq {victim['seq']} (invoice.pdf, sha256 {victim['sha256']})" in line
    assert expected in line
    assert "contract.pdf" not in text


def test_eml_and_mbox_correspondence_keeps_the_original_and_reads_the_headers(
    setup: Path,
) -> None:
    ours = message("Ops <ops@customer.test>", "support@examplehost.test", "vps1 is down",
                   "Mon, 05 Oct 2026 10:14:00 +0000", "<q1@customer.test>")  # fmt: skip
    ours.add_attachment(drawing("png", "down"), maintype="image", subtype="png",
                        filename="outage.png")  # fmt: skip
    answer = message("Support <help@examplehost.test>", "ops@customer.test", "Re: vps1 is down",
                     "Fri, 09 Oct 2026 16:00:00 +0800", "<a1@examplehost.test>",
                     In_Reply_To="<q1@customer.test>")  # fmt: skip
    (setup / "report.eml").write_bytes(bytes(ours))
    write_mbox(setup / "thread.mbox", [ours, answer])
    code, out, err = attach(setup, "--target", "vps1", "--kind", "correspondence",
                            "report.eml", "thread.mbox")  # fmt: skip
    assert code == 0, err
    assert "1 e-mail messages read" in out and "2 e-mail messages read" in out
    eml, mbox = records(setup)
    assert eml["media_type"] == "message/rfc822"
    stored = folder_of(setup / "evidence.db") / str(eml["sha256"])
    assert stored.read_bytes() == (setup / "report.eml").read_bytes()
    assert b"outage.png" in stored.read_bytes()
    messages = mbox["messages"]
    assert isinstance(messages, list)
    assert [(m["ts"], m["from_address"], m["subject"], m["in_reply_to"]) for m in messages] == [
        ("2026-10-05T10:14:00Z", "ops@customer.test", "vps1 is down", None),
        ("2026-10-09T08:00:00Z", "help@examplehost.test", "Re: vps1 is down", "<q1@customer.test>"),
    ]
    assert messages[0]["attachments"] == ["outage.png"]


def test_an_eml_that_is_no_mail_is_refused_and_nothing_is_recorded(setup: Path) -> None:
    (setup / "notes.eml").write_text("just some text\nwithout headers\n")
    (setup / "good.pdf").write_bytes(drawing("pdf", "ok"))
    code, _, err = attach(setup, "--target", "vps1", "--kind", "correspondence",
                          "good.pdf", "notes.eml")  # fmt: skip
    assert code == 2
    assert err.strip().startswith("slawitness: notes.eml: not an e-mail message")
    assert "--kind other" in err and "Traceback" not in err
    assert records(setup) == []
    assert attach(setup, "--target", "vps1", "--kind", "other", "notes.eml")[0] == 0


def test_a_file_above_the_size_limit_is_refused_with_a_clear_message(setup: Path) -> None:
    (setup / "dump.bin").write_bytes(os.urandom(2 * 2**20))
    code, _, err = attach(setup, "--target", "vps1", "--kind", "other", "dump.bin")
    assert code == 2
    assert err.strip() == (
        "slawitness: dump.bin: 2.0 MiB is larger than the 1.0 MiB limit"
        " (attachments.max_size in the config)"
    )
    assert records(setup) == []
    folder = folder_of(setup / "evidence.db")
    assert not folder.exists() or list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message_part"),
    [
        (["--target", "nope", "--kind", "other", "x.pdf"], "--target 'nope': no such target"),
        (["--target", "vps1", "--kind", "bill", "x.pdf"], "invalid value for '--kind'"),
        (["--target", "vps1", "--kind", "other", "--date", "2026-10-32", "x.pdf"],
         "invalid value for '--date'"),
        (["--target", "vps1", "--kind", "other", "missing.pdf"],
         "missing.pdf: cannot be read (No such file or directory)"),
        (["--target", "vps1", "--kind", "other", "."], ".: not a regular file"),
    ],
)  # fmt: skip
def test_bad_arguments_are_one_line_and_record_nothing(
    setup: Path, args: list[str], message_part: str
) -> None:
    (setup / "x.pdf").write_bytes(b"%PDF-1.4\n")
    done = slawitness("attach", "--config", str(setup / "slawitness.yml"), *args, cwd=setup)
    assert done.returncode == 2
    assert message_part in done.stderr and "Traceback" not in done.stderr
    assert records(setup) == []


def _tree(root: Path) -> dict[str, bytes | str]:
    """Every entry under root: file bytes, or a link's target."""
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file():
            found[key] = path.read_bytes()
    return found


def test_nothing_outside_the_attachments_folder_is_ever_written(tmp_path: Path) -> None:
    setup = tmp_path / "conf"
    setup.mkdir()
    data = {"vantage": "office", "store": "evidence.db", "targets": [TARGET]}
    (setup / "slawitness.yml").write_text(yaml.safe_dump(data))
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("must stay\n")
    deep = setup / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "..evil.pdf").write_bytes(b"%PDF-1.4 ../../outside\n")
    planted = b"%PDF-1.4 planted\n"
    (setup / "planted.pdf").write_bytes(planted)
    folder = folder_of(setup / "evidence.db")
    folder.mkdir()
    (folder / hashlib.sha256(planted).hexdigest()).symlink_to(victim)
    before = _tree(tmp_path)

    code, _, err = attach(setup, "--target", "vps1", "--kind", "other",
                          str(setup / "a" / "b" / ".." / "b" / "..evil.pdf"))  # fmt: skip
    assert code == 0, err
    code, _, err = attach(setup, "--target", "vps1", "--kind", "other", str(setup / "planted.pdf"))
    assert code == 2 and "is not a regular file; nothing was written through it" in err

    after = _tree(tmp_path)
    added = {k for k in after if k not in before}
    assert victim.read_text() == "must stay\n"
    assert all(k.startswith("conf/evidence.") for k in added), added
    assert [k for k in added if k.startswith("conf/evidence.attachments/")] == [
        "conf/evidence.attachments/" + hashlib.sha256(b"%PDF-1.4 ../../outside\n").hexdigest()
    ]
    assert {k: after[k] for k in before} == before
    assert [r["name"] for r in records(setup)] == ["..evil.pdf"]


def test_an_attachments_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    setup = tmp_path / "conf"
    setup.mkdir()
    (setup / "slawitness.yml").write_text(
        yaml.safe_dump({"vantage": "office", "store": "evidence.db", "targets": [TARGET]})
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (setup / "evidence.attachments").symlink_to(elsewhere)
    (setup / "x.pdf").write_bytes(b"%PDF-1.4\n")
    code, _, err = attach(setup, "--target", "vps1", "--kind", "other", str(setup / "x.pdf"))
    assert code == 3 and "is a symbolic link" in err
    assert list(elsewhere.iterdir()) == [] and records(setup) == []


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("contract.pdf", "contract.pdf"),
        ("合同 2026.pdf", "合同 2026.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\win.ini", "win.ini"),
        ("line\nbreak.eml", "line_break.eml"),
        ("..", "file"),
        ("", "file"),
    ],
)
def test_bundle_member_names_stay_inside_their_hash_folder(name: str, member: str) -> None:
    digest = "ab" * 32
    assert bundle_member(digest, name) == f"attachments/{digest}/{member}"


def test_export_lists_attachment_records(setup: Path) -> None:
    (setup / "c.pdf").write_bytes(b"%PDF-1.4 c\n")
    assert attach(setup, "--target", "vps1", "--kind", "contract", "c.pdf")[0] == 0
    done = slawitness("export", "--config", str(setup / "slawitness.yml"), "--type", "attachment")
    [line] = [json.loads(li) for li in done.stdout.splitlines()]
    assert line["type"] == "attachment" and line["name"] == "c.pdf" and line["size"] == 11


def test_a_backup_carries_the_documents_and_verifies_on_its_own(setup: Path) -> None:
    (setup / "c.pdf").write_bytes(drawing("pdf", "contract"))
    (setup / "i.pdf").write_bytes(drawing("pdf", "invoice"))
    (setup / "gone.pdf").write_bytes(b"%PDF-1.4 gone\n")
    for name, kind in (("c.pdf", "contract"), ("i.pdf", "invoice"), ("gone.pdf", "other")):
        assert attach(setup, "--target", "vps1", "--kind", kind, name)[0] == 0
    gone = hashlib.sha256(b"%PDF-1.4 gone\n").hexdigest()
    (folder_of(setup / "evidence.db") / gone).unlink()
    safe = setup / "safe"
    safe.mkdir()
    done = slawitness("backup", "--config", str(setup / "slawitness.yml"), str(safe / "copy.db"))
    assert done.returncode == 0, done.stderr
    assert "2 attachments copied and checked" in done.stdout
    assert f"attachment {gone}: file MISSING from" in done.stderr
    copied = sorted(p.name for p in (safe / "copy.attachments").iterdir())
    assert copied == sorted(hashlib.sha256((setup / n).read_bytes()).hexdigest()
                            for n in ("c.pdf", "i.pdf"))  # fmt: skip
    check = slawitness("verify", "--store", str(safe / "copy.db"))
    assert check.returncode == 1
    [line] = [li for li in check.stdout.splitlines() if "attachment seq" in li]
    assert "(gone.pdf" in line and "MISSING" in line
    with EvidenceStore.open(setup / "evidence.db", readonly=True) as store:
        record = store.latest("backup")
    assert record is not None
    assert (record.record["attachments"], record.record["attachments_missing"]) == (2, 1)


def _cite(folder: Path, prefix: str) -> None:
    target = {**TARGET, "sla": {"uptime": 99.9, "source": {"attachment": prefix, "page": 4}}}
    data = {"vantage": "office", "store": "evidence.db", "targets": [target]}
    (folder / "slawitness.yml").write_text(yaml.safe_dump(data, sort_keys=False))


def test_check_config_says_when_the_cited_contract_is_not_attached(setup: Path) -> None:
    contract = drawing("pdf", "contract")
    (setup / "contract.pdf").write_bytes(contract)
    digest = hashlib.sha256(contract).hexdigest()
    _cite(setup, digest[:12])
    done = slawitness("check-config", "--config", str(setup / "slawitness.yml"))
    assert done.returncode == 0
    assert "targets[0].sla.source.attachment: the store" in done.stderr
    assert attach(setup, "--target", "vps1", "--kind", "contract", "contract.pdf")[0] == 0
    done = slawitness("check-config", "--config", str(setup / "slawitness.yml"))
    assert done.returncode == 0 and "sla.source" not in done.stderr
    _cite(setup, "0123456789ab" if not digest.startswith("0123456789ab") else "ba9876543210")
    done = slawitness("check-config", "--config", str(setup / "slawitness.yml"))
    assert "no file attached to vps1 has a SHA-256 starting" in done.stderr
    (folder_of(setup / "evidence.db") / digest).unlink()
    _cite(setup, digest.upper())
    done = slawitness("check-config", "--config", str(setup / "slawitness.yml"))
    assert f"the cited file {digest}: file MISSING from" in done.stderr


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ({"page": 4}, "give either attachment (a SHA-256) or url"),
        ({"attachment": "ab" * 32, "url": "https://x.test/sla", "read_on": "2026-10-01"},
         "give either attachment (a SHA-256) or url"),
        ({"url": "https://x.test/sla"}, "read_on: needed with url"),
        ({"attachment": "xyz"}, "attachment"),
        ({"attachment": "ab" * 32, "terms": {"upkeep": "p. 4"}}, "terms"),
    ],
)  # fmt: skip
def test_a_bad_sla_source_is_one_line_naming_the_key(
    setup: Path, source: dict[str, object], problem: str
) -> None:
    target = {**TARGET, "sla": {"uptime": 99.9, "source": source}}
    (setup / "slawitness.yml").write_text(
        yaml.safe_dump({"vantage": "office", "targets": [target]}, sort_keys=False)
    )
    done = slawitness("check-config", "--config", str(setup / "slawitness.yml"))
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "targets[0].sla.source" in line and problem in line


def test_names_and_notes_that_are_not_utf8_are_kept_readable(setup: Path) -> None:
    name = "scan-\udcff.pdf"  # the byte 0xff, as Python sees an undecodable file name
    (setup / name).write_bytes(b"%PDF-1.4 scan\n")
    code, _, err = attach(setup, "--target", "vps1", "--kind", "other", "--note", "n\udcfe", name)
    assert code == 0, err
    [record] = records(setup)
    assert (record["name"], record["note"]) == ("scan-\ufffd.pdf", "n\ufffd")
    done = slawitness("note", "add", "--config", str(setup / "slawitness.yml"),
                      "--target", "vps1", "--ticket", "t\udcff", "bad \udcff byte")  # fmt: skip
    assert done.returncode == 0, done.stderr
    with EvidenceStore.open(setup / "evidence.db", readonly=True) as store:
        [note] = store.records(types=["note"])
    assert (note.record["ticket"], note.record["text"]) == ("t\ufffd", "bad \ufffd byte")
