"""Where the figures come from: the signed checkpoint each store's records are proven against.

The reader of a complaint often gets the PDF alone. Its first page names, per store, the
checkpoint that commits to the records the figures were computed from (its size, Merkle
root and signing key), the newest checkpoint witnesses cosigned and the newest one trusted
authorities time-stamped, each with whether it was made after the period ended (so it
covers the period's records), and one line on how to check it. This module draws that block
(summary.json's `provenance`) from the anchors the report and bundle share and the summary's
`witnessed` and `trusted_time`, so the page and the embedded summary.json say the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from collector.evidence.export import iso_from_ns
from reports.bundle.proofs import Anchor


def provenance(
    anchors: Sequence[Anchor],
    witnessed: Sequence[Mapping[str, Any]],
    trusted_time: Sequence[Mapping[str, Any]],
    period_end_ns: int,
) -> list[dict[str, Any]]:
    """Per anchored store, its checkpoint; per store, the newest cosigned and the newest
    time-stamped checkpoint since the period began (from the summary's lists)."""
    cosigned = {str(entry["store"]): _newest_cosigned(entry) for entry in witnessed}
    stamped = {str(entry["store"]): _newest_stamped(entry) for entry in trusted_time}
    found = []
    for anchor in anchors:
        store = str(anchor.store)
        entry: dict[str, Any] = {"store": store, "checkpoint": None, "problem": anchor.problem}
        if anchor.checkpoint is not None:
            entry["checkpoint"] = checkpoint_facts(anchor)
        entry["cosigned"] = _covering(cosigned.get(store), period_end_ns)
        entry["timestamped"] = _covering(stamped.get(store), period_end_ns)
        found.append(entry)
    return found


def checkpoint_facts(anchor: Anchor) -> dict[str, Any]:
    """What a reader needs to recognise the checkpoint: log, size, root, key, when."""
    assert anchor.checkpoint is not None
    at = anchor.checkpoint
    return {
        "seq": at.seq,
        "origin": at.checkpoint.origin,
        "size": at.checkpoint.size,
        "root_hash": at.checkpoint.root.hex(),
        "key": at.key.encode(),
        "key_name": at.key.name,
        "key_sha256": hashlib.sha256(at.key.public_key).hexdigest(),
        "signed_at": iso_from_ns(at.ts_ns),
        "fresh": anchor.fresh,
    }


def _newest_cosigned(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    listed = [c for c in entry.get("checkpoints") or [] if c.get("cosigners")]
    if not listed:
        return None
    newest = listed[-1]
    return {
        "checkpoint_seq": newest["checkpoint_seq"],
        "size": newest["tree_size"],
        "ts_ns": newest["ts_ns"],
        "cosigners": [
            {"witness": c["witness"], "time": _cosigned_at(c.get("timestamp"))}
            for c in newest["cosigners"]
        ],
    }


def _cosigned_at(timestamp: object) -> str | None:
    """A cosignature's time (whole seconds since the epoch, as cosignature/v1 signs it)."""
    return iso_from_ns(timestamp * 1_000_000_000) if isinstance(timestamp, int) else None


def _newest_stamped(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    listed = [c for c in entry.get("checkpoints") or [] if c.get("stamps")]
    if not listed:
        return None
    newest = listed[-1]
    stamps = [
        {"tsa": s["tsa"], "url": s["url"], "gen_time": s["gen_time"]} for s in newest["stamps"]
    ]
    return {"checkpoint_seq": newest["checkpoint_seq"], "size": newest["size"], "stamps": stamps}


def _covering(found: dict[str, Any] | None, period_end_ns: int) -> dict[str, Any] | None:
    """`found` with whether it came after the period's end (by its own time where it has
    one, else by its stamps' times): only then does it vouch for the whole period."""
    if found is None:
        return None
    ts_ns = found.pop("ts_ns", None)
    if isinstance(ts_ns, int):
        after = ts_ns >= period_end_ns
    else:
        end = datetime.fromtimestamp(period_end_ns / 1e9, UTC)
        times = [_instant(s.get("gen_time")) for s in found.get("stamps") or []]
        after = any(when is not None and when >= end for when in times)
    return {**found, "after_period": after}


def _instant(text: object) -> datetime | None:
    """A stamp's gen_time (ISO 8601 with its offset), or None when it has none."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


__all__ = ["checkpoint_facts", "provenance"]
