"""`slawitness seal --period YYYY-MM`: a closed month's evidence as a self-verifying archive.

A claim may be disputed a year or more after the month it is about; by then the collector
may be gone, its store moved or damaged. A sealed archive holds everything needed to check
the month without the live store: the month's contiguous chain segment (JSON lines and an
SQLite snapshot), a checkpoint signed for it, the proof that anchors the segment's last
record in it, the public key, the standalone `verify.py`, the documents attached that month
(`attachments/<sha256>/<name>`, vouched for by their records in the segment) and a
`seal/seal.json` saying what was sealed. It is the bundle's format without a report, so
`verify-bundle` and `verify.py` check it the same way.

Sealing first compacts the store up to the month's end (`collector.evidence.compaction`):
a sealed month is closed for good, so its records move into blocks; the archive is written
from the store's reads, which see blocks as rows, so its content is what it always was.

Months are calendar months in UTC (the SLA's own timezone belongs to a report, not to the
store). Only a month that is over can be sealed, and only with the signing key: an archive
that cannot prove its records were signed is not a seal. The store records each seal.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from collector.config.model import Config
from collector.core.evidence_era import datetime_ns, parse_month
from collector.core.output_paths import OutputPathError, check_file_target
from collector.evidence.compaction import compact
from collector.evidence.compaction_runs import compaction_lock
from collector.evidence.records import Stamp
from collector.evidence.store import EvidenceStore
from reports.bundle.attachments import segment_attachments
from reports.bundle.proofs import anchor_stores, prove
from reports.bundle.records import stage_records
from reports.bundle.writer import BundleError, BundleInfo, write_bundle
from reports.sources.evidence_view import EvidenceView


@dataclass(frozen=True)
class SealInfo:
    """The archive written and the month it holds."""

    bundle: BundleInfo
    month: str
    first_seq: int | None
    last_seq: int | None
    checkpoint_size: int
    compacted: int
    """Records moved into blocks before the archive was written."""


def month_bounds(month: str) -> tuple[int, int]:
    """[start, end) of a UTC calendar month `YYYY-MM`, in ns (the CLI's `Month` has checked
    it: `collector.core.evidence_era.parse_month`)."""
    first, after = parse_month(month)
    start, end = (datetime(day.year, day.month, 1, tzinfo=UTC) for day in (first, after))
    return datetime_ns(start), datetime_ns(end)


def seal(
    config: Config,
    config_path: Path,
    month: str,
    zip_path: Path,
    warn: Callable[[str], None] | None = None,
    force: bool = False,
) -> SealInfo:
    """Write the sealed archive of `month` of the config's store to `zip_path`; an existing
    file there is replaced only with `force` (the chain keeps the seal record of each)."""
    start_ns, end_ns = month_bounds(month)
    now = Stamp.now().ts_ns
    if end_ns > now:
        raise BundleError(f"--period {month}: the month is not over yet; only closed months seal")
    try:
        check_file_target(zip_path, replace=force)
    except OutputPathError as exc:
        raise BundleError(str(exc)) from None
    store = config.store
    [anchor], key = anchor_stores(config, [store])
    if anchor.checkpoint is None or not anchor.fresh:
        raise BundleError(f"{store}: cannot seal without signing: {anchor.problem}")
    with compaction_lock(store, wait=True), EvidenceStore.open(store) as opened:
        compacted = compact(opened, now, until_ns=end_ns).records
    hosts = [host.name for host in config.hosts()]
    staging_folder = tempfile.TemporaryDirectory(prefix="slawitness-seal-")
    with EvidenceView() as evidence, staging_folder as staging:
        records = stage_records(Path(staging), [store], hosts, start_ns, end_ns,
                                limits=[anchor.limit], evidence=evidence)  # fmt: skip
        [segment] = records.segments
        if segment.last_seq is None:
            raise BundleError(f"{store}: no records in {month}; nothing to seal")
        proofs = prove(records, [anchor], {}, key, warn, evidence)
        first, last = segment.first_seq or 1, segment.last_seq
        documents = segment_attachments(evidence.store(store), first, last, warn)
        described = Path(staging) / "seal"
        described.mkdir()
        size = anchor.checkpoint.checkpoint.size
        (described / "seal.json").write_text(
            json.dumps(
                {
                    "format": "slawitness-seal/1",
                    "month": month,
                    "timezone": "UTC",
                    "store_id": checkpoint_origin(anchor.checkpoint.checkpoint.origin),
                    "first_seq": segment.first_seq,
                    "last_seq": segment.last_seq,
                    "records": segment.records,
                    "checkpoint_size": size,
                    "attachments": sorted(documents),
                    "sealed_at": datetime.fromtimestamp(now / 1e9, UTC).isoformat(),
                },
                indent=1,
            )
            + "\n",
            encoding="utf-8",
        )
        bundle = write_bundle(
            zip_path, report_dir=described, records=records, config_path=config_path,
            config=config, verify_results=[], period_end_ns=end_ns, proofs=proofs,
            folder="seal", attachments=documents, force=force,
        )  # fmt: skip
    with EvidenceStore.open(store) as opened:
        opened.append([
            {
                "type": "seal", **Stamp.now().fields(), "vantage": config.vantage,
                "target": None, "month": month, "first_seq": segment.first_seq,
                "last_seq": segment.last_seq, "checkpoint_size": size,
                "path": str(zip_path.resolve()), "sha256": bundle.sha256,
            }
        ])  # fmt: skip
    return SealInfo(bundle, month, segment.first_seq, segment.last_seq, size, compacted)


def checkpoint_origin(origin: str) -> str:
    """The store id in a checkpoint's origin (`slawitness/<store id>`)."""
    return origin.removeprefix("slawitness/")
