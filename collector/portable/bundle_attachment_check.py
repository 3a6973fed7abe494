"""Checking the documents a bundle carries: each file is the one its chained record names.

A bundle carries the attached contract, invoices and correspondence of its report as
`attachments/<sha256>/<name>`. The manifest only shows a file was not changed after the
bundle was made; what makes it evidence is an `attachment` record in the bundle's chained
records (a records segment, or a record proved against the signed checkpoint) naming that
very SHA-256. So each file is hashed again and must match its folder's name, and some
record the bundle vouches for must name it; a file nothing vouches for is a problem, as it
could have been put in by anyone. Standard library only: `verify.py` embeds it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from collector.portable.bundle_members import Members

ATTACHMENTS_PREFIX = "attachments/"
_ATTACHMENT_MEMBER = re.compile(r"^attachments/([0-9a-f]{64})/[^/]+$")


def check_attachments(
    members: Members,
    vouched: Mapping[str, Mapping[str, object]],
    problems: list[str],
    notes: list[str],
) -> int:
    """Check every member under attachments/ against its name and the records; how many
    passed. `vouched` maps a SHA-256 to an attachment record the bundle's checked records
    hold (from a segment or an inclusion proof)."""
    passed = 0
    for name in members.names:
        if not name.startswith(ATTACHMENTS_PREFIX):
            continue
        match = _ATTACHMENT_MEMBER.match(name)
        if match is None:
            problems.append(f"{name}: not an attachment name (attachments/<sha256>/<file name>)")
            continue
        expected = match.group(1)
        before = len(problems)
        actual = members.sha256(name, problems)
        if actual is None:
            continue
        if actual != expected:
            problems.append(
                f"{name}: its SHA-256 is {actual}, not the {expected} it is filed under"
            )
        record = vouched.get(expected)
        if record is None:
            problems.append(
                f"{name}: no attachment record in the bundle's checked records names this file"
            )
        if len(problems) == before and record is not None:
            passed += 1
            notes.append(f"{name}: {describe_attachment(record)}, SHA-256 matches")
    return passed


def describe_attachment(record: Mapping[str, object]) -> str:
    """`the contract of vps1 (contract.pdf, dated 2026-01-15)`: what a record says it is."""
    dated = f", dated {record.get('date')}" if record.get("date") else ""
    return (
        f"the {record.get('kind')} of {record.get('target')} ({record.get('name')}{dated})"
        f" attached in seq {record.get('seq', '?')}"
    )
