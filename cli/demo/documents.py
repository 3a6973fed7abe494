"""The demo's complaint file: a contract, an invoice and a support thread, made on the spot.

The demo shows the whole case, and a case is argued with documents as well as measurements.
The contract's bytes never change (its SHA-256 is cited in the demo's config as the source
of the SLA terms before anything is collected); the invoice and the support thread carry the
demo's own dates, the thread's report sent just after the first outage began and the
provider's answer some time later, so the report's timeline has something to show.
Standard library only: the PDFs are one page of text written out by hand.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

CONTRACT_TEXT: tuple[str, ...] = (
    "Example Hosting Ltd. - Service Agreement (demonstration)",
    "Customer account DEMO-0001, server demo-vps",
    "",
    "1. Service level: 99.9 % availability per calendar month (UTC).",
    "2. Service credits: below 99.9 %: 10 %; below 99.0 %: 25 %; below 95.0 %: 50 %",
    "   of the monthly fee of 40.00 USD.",
    "3. Claims must be made within 30 days of the end of the month.",
)
CONTRACT_TERMS = {"uptime": "p. 1 §1", "credits": "p. 1 §2", "claim_window_days": "p. 1 §3"}


def text_pdf(lines: tuple[str, ...]) -> bytes:
    """A valid one-page PDF showing `lines` (ASCII) in Helvetica, cross-reference table and
    all, so any PDF reader opens it."""
    shown = "".join(f"({_escaped(line)}) Tj T* " for line in lines)
    stream = f"BT /F1 11 Tf 14 TL 60 780 Td {shown}ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _escaped(line: str) -> str:
    """A PDF literal string's specials escaped: backslash and both parentheses."""
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def contract_pdf() -> bytes:
    return text_pdf(CONTRACT_TEXT)


def contract_sha256() -> str:
    return hashlib.sha256(contract_pdf()).hexdigest()


def invoice_pdf(day: datetime) -> bytes:
    return text_pdf((
        "Example Hosting Ltd. - Invoice (demonstration)",
        f"Date {day:%Y-%m-%d}, account DEMO-0001",
        "demo-vps, one month: 40.00 USD",
    ))  # fmt: skip


def support_thread(reported: datetime, answered: datetime) -> bytes:
    """An mbox of two messages: the customer's report and the provider's answer to it."""
    asked = _mail("Demo Ops <ops@customer.invalid>", "support@example.invalid",
                  "demo-vps web service down", reported, "<report-1@customer.invalid>",
                  "Our web service on demo-vps stopped answering a moment ago.")  # fmt: skip
    reply = _mail("Example Hosting Support <help@example.invalid>", "ops@customer.invalid",
                  "Re: demo-vps web service down", answered, "<answer-1@example.invalid>",
                  "We are looking into it.", reply_to="<report-1@customer.invalid>")  # fmt: skip
    return _mbox_entry(asked, reported) + _mbox_entry(reply, answered)


def _mail(
    sender: str, to: str, subject: str, when: datetime, msgid: str, body: str,
    reply_to: str | None = None,
) -> EmailMessage:  # fmt: skip
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, to, subject
    mail["Date"] = format_datetime(when)
    mail["Message-ID"] = msgid
    if reply_to is not None:
        mail["In-Reply-To"] = reply_to
    mail.set_content(body + "\n")
    return mail


def _mbox_entry(mail: EmailMessage, when: datetime) -> bytes:
    """One mbox message: the `From ` separator line, the message, a blank line."""
    return b"From MAILER-DAEMON %s\n%s\n" % (
        when.strftime("%a %b %d %H:%M:%S %Y").encode("ascii"),
        bytes(mail).replace(b"\nFrom ", b"\n>From "),
    )


def demo_dates(started: datetime, span: timedelta) -> tuple[datetime, datetime]:
    """When the demo customer reported the first outage, and when the provider answered."""
    return started + span * 0.18, started + span * 0.40
