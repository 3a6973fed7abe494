"""Support correspondence turns into timeline records, and hostile mail into MailError only.

Every file is written here with `email.message` and `mailbox.mbox`; the malformed cases are
built from raw header lines, since `EmailMessage` refuses to write them.
"""

from __future__ import annotations

import base64
import errno
import json
import mailbox
import os
import re
import tempfile
from email.headerregistry import Address
from email.message import EmailMessage, Message
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.documents.mail_headers import MAIL_SUFFIXES, MailError, read_messages
from tests.rig import slow_run

KEYS = {
    "date", "ts", "from", "from_address", "to", "cc", "subject", "message_id", "in_reply_to",
    "attachments",
}  # fmt: skip
NO_HEADERS: dict[str, object] = {key: None for key in KEYS} | {"attachments": []}
FROM = "Alice Admin <Alice@Customer.example>"
DATE = "Mon, 05 Oct 2026 10:14:00 +0000"


def compose(headers: dict[str, str], body: str = "The server stopped answering.") -> EmailMessage:
    """A well-formed message with these headers, in this order."""
    message = EmailMessage()
    for name, value in headers.items():
        message[name] = value
    message.set_content(body)
    return message


def raw_message(*header_lines: bytes) -> bytes:
    """Bytes of a message with header lines exactly as given, malformed ones included."""
    return b"\r\n".join(header_lines) + b"\r\n\r\nbody\r\n"


def encoded_word(text: str, charset: str) -> str:
    """An RFC 2047 word as mail clients write it, charset named as they name it."""
    return f"=?{charset}?b?{base64.b64encode(text.encode(charset)).decode()}?="


def write(path: Path, content: Message | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.as_bytes())
    return path


def write_mbox(path: Path, entries: list[Message | bytes]) -> Path:
    box = mailbox.mbox(str(path))
    for entry in entries:
        box.add(entry)
    box.close()
    return path


def test_plain_eml_gives_every_field(tmp_path: Path) -> None:
    message = compose({
        "From": FROM,
        "To": "Hoster Support <support@hoster.example>",
        "Cc": "ops@customer.example",
        "Subject": "Server vps1 down since 09:50",
        "Date": DATE,
        "Message-ID": "<outage-1@customer.example>",
    })  # fmt: skip
    path = write(tmp_path / "outage.eml", message)

    assert read_messages(path, ".eml") == [{
        "date": DATE,
        "ts": "2026-10-05T10:14:00Z",
        "from": "Alice Admin <Alice@Customer.example>",
        "from_address": "alice@customer.example",
        "to": "Hoster Support <support@hoster.example>",
        "cc": "ops@customer.example",
        "subject": "Server vps1 down since 09:50",
        "message_id": "<outage-1@customer.example>",
        "in_reply_to": None,
        "attachments": [],
    }]  # fmt: skip


def test_encoded_words_are_decoded(tmp_path: Path) -> None:
    message = compose({
        "From": str(Address(display_name="张伟", addr_spec="Zhang.Wei@Kunde.example")),
        "Subject": "服务器宕机，请尽快处理",
        "Date": DATE,
    })  # fmt: skip
    path = write(tmp_path / "chinese.eml", message)
    written = path.read_bytes()
    assert b"=?utf-8?" in written
    assert "服务器".encode() not in written

    [record] = read_messages(path, ".eml")

    assert record["from"] == "张伟 <Zhang.Wei@Kunde.example>"
    assert record["from_address"] == "zhang.wei@kunde.example"
    assert record["subject"] == "服务器宕机，请尽快处理"


@pytest.mark.parametrize("charset", ["utf-8", "gb2312", "gb18030", "big5"])
def test_encoded_words_in_legacy_charsets(tmp_path: Path, charset: str) -> None:
    subject, name = "服務中斷", "陳大文"
    if charset == "gb2312":
        subject, name = "服务中断", "陈大文"
    message = Message()
    message["From"] = encoded_word(name, charset) + " <chan@kunde.example>"
    message["Date"] = DATE
    message["Subject"] = encoded_word(subject, charset)
    path = write(tmp_path / "legacy.eml", message)
    assert path.read_bytes().count(f"=?{charset}?b?".encode()) == 2

    [record] = read_messages(path, ".eml")

    assert (record["from"], record["subject"]) == (f"{name} <chan@kunde.example>", subject)


def test_attachments_are_named_not_read(tmp_path: Path) -> None:
    message = compose({"From": FROM, "Date": DATE, "Subject": "Logs and invoice"})
    pdf = b"%PDF-1.7\n" + os.urandom(200_000)
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="invoice-10.pdf")
    message.add_attachment(os.urandom(50_000), maintype="image", subtype="png", filename="监控.png")
    path = write(tmp_path / "with-files.eml", message)

    [record] = read_messages(path, ".eml")

    assert record["attachments"] == ["invoice-10.pdf", "监控.png"]
    assert path.stat().st_size > 250_000
    assert len(json.dumps(record)) < 1_000


def test_attachment_list_stops_at_twenty(tmp_path: Path) -> None:
    message = compose({"From": FROM, "Date": DATE})
    for number in range(25):
        message.add_attachment(b"log line\n", maintype="text", subtype="plain",
                               filename=f"log-{number:02}.txt")  # fmt: skip
    path = write(tmp_path / "many.eml", message)

    [record] = read_messages(path, ".eml")

    assert record["attachments"] == [f"log-{number:02}.txt" for number in range(20)]


@pytest.mark.parametrize(
    ("date", "ts"),
    [
        ("Mon, 05 Oct 2026 18:14:00 +0800", "2026-10-05T10:14:00Z"),
        ("Fri, 09 Oct 2026 01:30:00 +0800", "2026-10-08T17:30:00Z"),
        ("Mon, 05 Oct 2026 10:14:00 -0530", "2026-10-05T15:44:00Z"),
        ("Mon, 05 Oct 2026 10:14:00", "2026-10-05T10:14:00Z"),
        ("Mon, 05 Oct 2026 10:14:00 -0000", "2026-10-05T10:14:00Z"),
        ("5 Oct 2026 10:14 GMT", "2026-10-05T10:14:00Z"),
        ("Mon, 05 Oct 2026 10:14:00 +0000 (UTC)", "2026-10-05T10:14:00Z"),
        ("yesterday afternoon", None),
        ("Mon, 32 Oct 2026 10:14:00 +0000", None),
        ("Fri, 31 Dec 9999 23:30:00 -0100", None),
    ],
)
def test_date_becomes_utc_or_none(tmp_path: Path, date: str, ts: str | None) -> None:
    message = Message()
    message["From"] = FROM
    message["Date"] = date
    path = write(tmp_path / "dated.eml", message)

    [record] = read_messages(path, ".eml")

    assert (record["date"], record["ts"]) == (date, ts)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"From": "noc@hoster.example"},
         {"from": "noc@hoster.example", "from_address": "noc@hoster.example"}),
        ({"Date": DATE}, {"date": DATE, "ts": "2026-10-05T10:14:00Z"}),
        ({"Date": DATE, "Subject": "ticket #4711"},
         {"date": DATE, "ts": "2026-10-05T10:14:00Z", "subject": "ticket #4711"}),
    ],
)  # fmt: skip
def test_missing_headers_are_none(
    tmp_path: Path, headers: dict[str, str], expected: dict[str, object]
) -> None:
    path = write(tmp_path / "sparse.eml", compose(headers))

    assert read_messages(path, ".eml") == [NO_HEADERS | expected]


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        (b"From: Support Team", "from_address", None),
        (b"From: Support Team", "from", "Support Team"),
        (b"From: <>", "from", "<>"),
        (b"From: undisclosed-recipients:;", "from_address", None),
        (b"From: =?utf-8?q?Doe=2C_John?= <J.Doe@Example.COM>", "from_address", "j.doe@example.com"),
        (b"To: bad@@x, =?utf-8?b?5byg5LiJ?= <z@x.cn>", "to", "bad@@x, 张三 <z@x.cn>"),
        (b"Message-ID: <", "message_id", "<"),
        (b"In-Reply-To:   <a@b>  ", "in_reply_to", "<a@b>"),
        (b"Subject: caf\xe9 \xff", "subject", "caf\ufffd \ufffd"),
        (b"Subject: \xe6\x9c\x8d\xe5\x8a\xa1\xe5\x99\xa8", "subject", "服务器"),
        (b"Subject: =?x-unknown?q?abc?=", "subject", "abc"),
        (b"Subject: =?gb2312?b?t/7O8Yo=?=", "subject", "服务\ufffd"),
        (b"Subject:    ", "subject", None),
        (b"Cc: =?utf-8?q?Doe=2C_John?= <j@x.example>", "cc", '"Doe, John" <j@x.example>'),
    ],
)
def test_malformed_headers_fall_back(
    tmp_path: Path, line: bytes, field: str, value: str | None
) -> None:
    lines = [b"Date: " + DATE.encode(), line]
    if not line.startswith(b"From:"):
        lines.insert(0, b"From: " + FROM.encode())
    path = write(tmp_path / "odd.eml", raw_message(*lines))

    [record] = read_messages(path, ".eml")

    assert record[field] == value
    json.dumps(record, ensure_ascii=False).encode()


def test_long_and_folded_values_become_one_short_line(tmp_path: Path) -> None:
    crowd = ", ".join(f"person{number}@customer.example" for number in range(60))
    message = compose({"From": FROM, "Date": DATE, "Subject": "x" * 600, "To": crowd})
    name = "a very " + "long " * 150 + "name.pdf"
    message.add_attachment(b"%PDF-1.7\n", maintype="application", subtype="pdf", filename=name)
    path = write(tmp_path / "long.eml", message)
    assert b"\n " in path.read_bytes()

    [record] = read_messages(path, ".eml")

    assert record["subject"] == "x" * 500
    assert record["to"] == crowd[:500].rstrip()
    assert record["attachments"] == [name[:500].rstrip()]


def test_line_breaks_and_whitespace_runs_collapse(tmp_path: Path) -> None:
    path = write(tmp_path / "folded.eml", raw_message(
        b"From: " + FROM.encode(),
        b"Date: Mon, 05 Oct 2026\r\n\t10:14:00   +0000",
        b"Subject: Outage\r\n   still\t\tongoing\r\n after   reboot",
    ))  # fmt: skip

    [record] = read_messages(path, ".eml")

    assert record["subject"] == "Outage still ongoing after reboot"
    assert (record["date"], record["ts"]) == (DATE, "2026-10-05T10:14:00Z")


def test_deeply_nested_mime_still_gives_the_headers(tmp_path: Path) -> None:
    nesting = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (level, level)
        for level in range(3000)
    )
    path = write(tmp_path / "nested.eml", raw_message(b"From: " + FROM.encode()) + nesting)

    [record] = read_messages(path, ".eml")

    assert (record["from_address"], record["attachments"]) == ("alice@customer.example", [])


def test_mbox_keeps_file_order_and_threading(tmp_path: Path) -> None:
    thread = [
        compose({"From": FROM, "To": "support@hoster.example", "Subject": "vps1 down",
                 "Date": "Mon, 05 Oct 2026 10:14:00 +0200",
                 "Message-ID": "<1@customer.example>"}),
        compose({"From": "Hoster Support <support@hoster.example>", "Subject": "Re: vps1 down",
                 "Date": "Fri, 09 Oct 2026 08:02:00 +0000",
                 "Message-ID": "<2@hoster.example>", "In-Reply-To": "<1@customer.example>"}),
        compose({"From": FROM, "Subject": "Re: Re: vps1 down",
                 "Date": "Wed, 07 Oct 2026 09:00:00 +0000",
                 "Message-ID": "<3@customer.example>", "In-Reply-To": "<2@hoster.example>"}),
    ]  # fmt: skip
    path = write_mbox(tmp_path / "thread.mbox", list(thread))

    records = read_messages(path, ".mbox")

    assert [(r["ts"], r["from_address"], r["message_id"], r["in_reply_to"]) for r in records] == [
        ("2026-10-05T08:14:00Z", "alice@customer.example", "<1@customer.example>", None),
        ("2026-10-09T08:02:00Z", "support@hoster.example", "<2@hoster.example>",
         "<1@customer.example>"),
        ("2026-10-07T09:00:00Z", "alice@customer.example", "<3@customer.example>",
         "<2@hoster.example>"),
    ]  # fmt: skip


def test_mbox_skips_entries_that_are_not_mail(tmp_path: Path) -> None:
    path = write_mbox(tmp_path / "mixed.mbox", [
        compose({"From": FROM, "Date": DATE, "Subject": "first"}),
        b"just a note someone pasted into the mailbox\n",
        compose({"X-Note": "scratch", "Subject": "draft without sender or date"}),
        compose({"From": "support@hoster.example", "Date": DATE, "Subject": "second"}),
    ])  # fmt: skip

    records = read_messages(path, ".mbox")

    assert [r["subject"] for r in records] == ["first", "second"]


def test_reading_an_mbox_writes_nothing(tmp_path: Path) -> None:
    path = write_mbox(tmp_path / "kept.mbox", [compose({"From": FROM, "Date": DATE})])
    path.chmod(0o444)
    before = (path.read_bytes(), path.stat().st_mtime_ns, sorted(tmp_path.iterdir()))

    assert read_messages(path, ".mbox")[0]["from_address"] == "alice@customer.example"
    assert (path.read_bytes(), path.stat().st_mtime_ns, sorted(tmp_path.iterdir())) == before


@pytest.mark.parametrize(
    "content",
    [b"", b"no mbox here, just text\n", b"From nobody Mon Oct  5 10:14:00 2026\n\nonly a body\n"],
)
def test_mbox_without_mail_is_an_error(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path / "empty.mbox", content)

    with pytest.raises(MailError) as raised:
        read_messages(path, ".mbox")
    assert str(raised.value) == "no e-mail message in this mbox file"


def test_mbox_of_junk_entries_only_is_an_error(tmp_path: Path) -> None:
    path = write_mbox(tmp_path / "junk.mbox", [b"note one\n", b"note two\n"])

    with pytest.raises(MailError) as raised:
        read_messages(path, ".mbox")
    assert str(raised.value) == "no e-mail message in this mbox file"


@pytest.mark.parametrize(
    "content",
    [b"", b"meeting notes: call the hoster again\n", compose({"Subject": "no sender, no date"})],
)
def test_eml_without_from_or_date_is_an_error(tmp_path: Path, content: Message | bytes) -> None:
    path = write(tmp_path / "notes.eml", content)

    with pytest.raises(MailError) as raised:
        read_messages(path, ".eml")
    assert str(raised.value) == "not an e-mail message: no From or Date header"


@pytest.mark.parametrize("suffix", [".txt", ".msg", "", "eml", ".eml.gz", ".mbx"])
def test_unknown_suffix_is_an_error(tmp_path: Path, suffix: str) -> None:
    path = write(tmp_path / "message", compose({"From": FROM, "Date": DATE}))

    with pytest.raises(MailError) as raised:
        read_messages(path, suffix)
    assert str(raised.value) == f"not a mail file: suffix {suffix!r} is none of .eml, .mbox"


@pytest.mark.parametrize("suffix", [".EML", ".Eml", ".MBOX", ".Mbox"])
def test_suffix_is_case_insensitive(tmp_path: Path, suffix: str) -> None:
    message = compose({"From": FROM, "Date": DATE})
    path = tmp_path / "message"
    if suffix.lower() == ".eml":
        write(path, message)
    else:
        write_mbox(path, [message])

    assert [r["from_address"] for r in read_messages(path, suffix)] == ["alice@customer.example"]


@pytest.mark.parametrize("suffix", MAIL_SUFFIXES)
@pytest.mark.parametrize(("where", "reason"), [("no-such-file", errno.ENOENT), (".", errno.EISDIR)])
def test_unreadable_path_is_an_error(tmp_path: Path, suffix: str, where: str, reason: int) -> None:
    with pytest.raises(MailError) as raised:
        read_messages(tmp_path / where, suffix)
    assert str(raised.value) == f"cannot read the file: {os.strerror(reason)}"


def pieces(*known: bytes) -> st.SearchStrategy[bytes]:
    """A known piece alone, or known pieces and random bytes joined, so that fuzzing gets past
    the first check of each parser instead of stopping at it."""
    piece = st.sampled_from(known)
    return piece | st.lists(piece | st.binary(max_size=8), max_size=6).map(b"".join)


HEADER_NAMES = (
    b"From", b"To", b"Cc", b"Subject", b"Date", b"Message-ID", b"In-Reply-To",
    b"Content-Type", b"Content-Disposition", b"Content-Transfer-Encoding",
)  # fmt: skip
header_values = pieces(
    b"a@b.example", b"Ann <A@B.example>", b"=?utf-8?b?5byg5LiJ?=", b"=?gb2312?q?=B7=FE?=",
    b"=?x?x?x?=", b"<a@b>", b"<", b'"', b",", b";", b":", b"@", b"(", b"\\", b"\r\n ", b"\t",
    b"\xff\xfe", b"Mon, 05 Oct 2026 10:14:00 +0800", b"+0800", b"9999", b"multipart/mixed",
    b"; boundary=x", b"attachment", b'; filename="r.pdf"', b"; filename*=UTF-8''%E6%8A",
    b'; name="=?utf-8?q?=E6=8A=A5.png?="', b"base64", b"message/rfc822",
)  # fmt: skip
header_lines = st.builds(
    lambda name, value: name + b": " + value, st.sampled_from(HEADER_NAMES), header_values
)
bodies = pieces(
    b"\r\n", b"--x\r\n", b"--x--\r\n", b"Content-Type: multipart/mixed; boundary=x\r\n",
    b"Content-Disposition: attachment; filename=log.txt\r\n", b"From: c@d.example\r\n",
    b"\r\nFrom x Mon Oct  5 10:14:00 2026\r\n",
)  # fmt: skip
mail_bytes = st.builds(
    lambda lines, body: b"\r\n".join(lines) + b"\r\n\r\n" + body,
    st.lists(header_lines, max_size=10),
    bodies,
) | st.binary(max_size=2_000)
FROM_LINE = b"From x Mon Oct  5 10:14:00 2026\n"
mbox_bytes = st.lists(mail_bytes, max_size=4).map(
    lambda entries: b"".join(FROM_LINE + entry + b"\n" for entry in entries)
)


def check_record(record: dict[str, object]) -> None:
    assert set(record) == KEYS
    for key, value in record.items():
        if key == "attachments":
            assert isinstance(value, list) and len(value) <= 20
            texts = value
        else:
            texts = [] if value is None else [value]
        for text in texts:
            assert isinstance(text, str) and 0 < len(text) <= 500
            assert text == " ".join(text.split())
    assert record["ts"] is None or re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(record["ts"])
    )
    json.dumps(record, ensure_ascii=False).encode()


@settings(
    max_examples=3_000 if slow_run() else 300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(eml=mail_bytes, mbox=mbox_bytes)
def test_any_bytes_give_records_or_mail_error(eml: bytes, mbox: bytes) -> None:
    with tempfile.TemporaryDirectory() as where:
        for suffix, content in ((".eml", eml), (".mbox", mbox)):
            path = Path(where) / f"fuzz{suffix}"
            path.write_bytes(content)
            try:
                records = read_messages(path, suffix)
            except MailError as exc:
                assert "\n" not in str(exc)
                continue
            assert records
            for record in records:
                check_record(record)
