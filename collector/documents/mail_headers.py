"""The few headers of support correspondence that a correspondence timeline needs.

A user attaches `.eml` files and `.mbox` mailboxes as evidence ("we told them on the 5th at
10:14, they answered on the 9th"). The stored original stays as it is, attachments included;
this module only reads, per message, when it was sent, by whom, to whom, about what, what it
answers and which files it carried. Mail from the wild is often malformed, so each header is
read on its own and a bad one becomes its raw text or None. The only exception is MailError,
for a file that cannot be read or holds no e-mail message at all. Records go into a hashed
JSON record, so their values are str, int, None or list[str], never floats.
"""

from __future__ import annotations

import email.policy
import errno
import mailbox
import os
from collections.abc import Callable
from datetime import UTC
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TypeVar

from collector.portable.errors import UsageError

MAIL_SUFFIXES: tuple[str, ...] = (".eml", ".mbox")
MAX_TEXT_CHARS = 500
MAX_ATTACHMENTS = 20

_T = TypeVar("_T")
_PARSER = BytesParser(policy=email.policy.default)
_AS_UNSTRUCTURED = HeaderRegistry(default_class=UnstructuredHeader, use_default_map=False)


class MailError(ValueError, UsageError):
    """One line naming what is wrong with the file.

    For example 'not an e-mail message: no From or Date header'; callers prefix the file name.
    """


def read_messages(path: Path, suffix: str) -> list[dict[str, object]]:
    """Timeline records of the one message in an `.eml` or each message of an `.mbox`, in order.

    The suffix comes from the user's file name, since the path read may be a copy named otherwise.
    """
    kind = suffix.lower()
    if kind == ".eml":
        record = _record_of(_read_bytes(path))
        if record is None:
            raise MailError("not an e-mail message: no From or Date header")
        return [record]
    if kind == ".mbox":
        records = _read_mbox(path)
        if not records:
            raise MailError("no e-mail message in this mbox file")
        return records
    raise MailError(f"not a mail file: suffix {suffix!r} is none of {', '.join(MAIL_SUFFIXES)}")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MailError(f"cannot read the file: {exc.strerror or exc}") from exc


def _read_mbox(path: Path) -> list[dict[str, object]]:
    """Records of the mbox entries that are e-mail messages; never locks or writes the file."""
    try:
        box = mailbox.mbox(str(path), create=False)
    except mailbox.NoSuchMailboxError as exc:
        raise MailError(f"cannot read the file: {os.strerror(errno.ENOENT)}") from exc
    except OSError as exc:
        raise MailError(f"cannot read the file: {exc.strerror or exc}") from exc
    records: list[dict[str, object]] = []
    try:
        for key in box.iterkeys():
            record = _record_of(box.get_bytes(key))
            if record is not None:
                records.append(record)
    except (OSError, mailbox.Error) as exc:
        raise MailError(f"cannot read the file: {getattr(exc, 'strerror', None) or exc}") from exc
    finally:
        box.close()
    return records


def _guarded(read: Callable[[], _T]) -> _T | None:
    """The result of `read`, or None when the stdlib mail parser fails on hostile input.

    Malformed mail makes `email` raise HeaderParseError, IndexError, ValueError, LookupError,
    AttributeError or RecursionError depending on where it breaks, and a timeline entry with one
    header missing is worth more than no entry, so this is the boundary that catches them all.
    """
    try:
        return read()
    except Exception:
        return None


def _record_of(data: bytes) -> dict[str, object] | None:
    """The timeline record of one message, or None when it has neither From nor Date."""
    message = _guarded(lambda: _PARSER.parsebytes(data))
    if message is None:
        # Nested too deeply for the MIME parser: the headers alone still date the message.
        message = _guarded(lambda: _PARSER.parsebytes(data, headersonly=True))
    if message is None:
        return None
    date = _clean(_raw_header(message, "Date"))
    sender = _decoded_header(message, "From")
    if date is None and sender is None:
        return None
    return {
        "date": date,
        "ts": _guarded(lambda: _utc_timestamp(date)) if date else None,
        "from": sender,
        "from_address": _guarded(lambda: _first_address(message)),
        "to": _decoded_header(message, "To"),
        "cc": _decoded_header(message, "Cc"),
        "subject": _decoded_header(message, "Subject"),
        "message_id": _clean(_raw_header(message, "Message-ID")),
        "in_reply_to": _clean(_raw_header(message, "In-Reply-To")),
        "attachments": _guarded(lambda: _attachment_names(message)) or [],
    }


def _clean(value: object) -> str | None:
    """One line of at most MAX_TEXT_CHARS characters, valid UTF-8, or None when empty."""
    if value is None:
        return None
    text = str(value)
    try:
        # Undecodable header bytes arrive as lone surrogates, which JSON hashing cannot encode.
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    text = " ".join(text.split())[:MAX_TEXT_CHARS].rstrip()
    return text or None


def _raw_header(message: EmailMessage, name: str) -> str | None:
    """The first `name` header exactly as written, without parsing it."""
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _decoded_header(message: EmailMessage, name: str) -> str | None:
    """The header with RFC 2047 encoded words decoded.

    A well-formed header is read through its structured parser; one with defects would come
    back rewritten (an invalid address turns into `<>`), so it is read as plain text instead.
    """
    header = _guarded(lambda: message.get(name))
    if header is not None and not getattr(header, "defects", ()):
        text = _clean(header)
        if text is not None:
            return text
    raw = _raw_header(message, name)
    if raw is None:
        return None
    return _clean(_guarded(lambda: _AS_UNSTRUCTURED(name, raw))) or _clean(raw)


def _utc_timestamp(date: str) -> str:
    """The Date as `2026-10-05T10:14:00Z`; a date without a zone is taken as UTC."""
    moment = parsedate_to_datetime(date)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _first_address(message: EmailMessage) -> str | None:
    """The lowercased addr-spec of the first From address, if it has a domain."""
    addresses: tuple[Address, ...] = getattr(message.get("From"), "addresses", ())
    if not addresses or not addresses[0].domain:
        return None
    return _clean(addresses[0].addr_spec.lower())


def _attachment_names(message: EmailMessage) -> list[str]:
    """File names of the MIME parts that carry one; the parts' bytes are never decoded."""
    names: list[str] = []
    for part in message.walk():
        name = _clean(_guarded(part.get_filename))
        if name is not None:
            names.append(name)
            if len(names) == MAX_ATTACHMENTS:
                break
    return names
