"""One report or bundle, end to end: period, sources, engine, outputs.

The CLI verbs call these two functions and nothing else in `reports/`, so the order of the
steps lives in one place: the records are staged before the report is written (the letters
cite their hash), summary.json is written first and every other output is drawn from it.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from collector.config.model import Config, Target
from collector.core.bounded_read import DOCUMENT_LIMIT, read_bounded
from collector.core.output_paths import OutputPathError, check_file_target, check_folder_target
from collector.diagnostics.capture import DIAGNOSIS, path_verdict
from collector.evidence.custody import record_made
from collector.portable.errors import UsageError
from collector.proving import stamp_coverage
from collector.proving.timestamping import stored_timestamps
from collector.proving.tlog_proofs import witnessed_checkpoints
from reports.bundle.attachments import carried_attachments
from reports.bundle.proofs import Anchor, anchor_stores, prove
from reports.bundle.provenance import provenance
from reports.bundle.writer import BundleError, BundleInfo, stage_records, write_bundle
from reports.complaint_file import complaint_file
from reports.pdf_parts import DocumentSigning
from reports.render.background import background_for
from reports.render.errors import RenderError
from reports.render.report_files import REPORT_FILES, ReportWriter
from reports.sla.period import Period, month_period, span_period
from reports.sla.summary import Incident, ReportSummary, summary_document
from reports.sla_inputs import evaluate_with_contacts
from reports.sources.custody_log import custody_events
from reports.sources.evidence_view import EvidenceView
from reports.sources.method_facts import method_facts
from reports.sources.prometheus import load_prometheus_samples
from reports.sources.stores import SourceData, SourceError, load_store_samples

MARGIN_NS = 2 * 86_400 * 1_000_000_000
"""Samples read beyond each edge of the period, so incidents crossing an edge keep their
full extent (the engine widens its view within what was read)."""


class PeriodError(ValueError, UsageError):
    """`--period`, `--from` or `--to` does not name a period."""


@dataclass(frozen=True)
class PeriodChoice:
    """`--period 2026-10`, or `--from` and `--to`."""

    month: str | None = None
    start: str | None = None
    end: str | None = None

    def resolve(self, timezone: str) -> Period:
        try:
            if self.month is not None:
                return month_period(self.month, timezone)
            if self.start is None or self.end is None:
                raise PeriodError("give --period YYYY-MM, or both --from and --to")
            return span_period(self.start, self.end, timezone)
        except ValueError as exc:
            option = "--period" if self.month is not None else "--from/--to"
            raise PeriodError(f"invalid value for '{option}': {exc}") from None


@dataclass(frozen=True)
class ReportOutcome:
    """What a report run produced."""

    summary: dict[str, Any]
    paths: list[Path]
    period: Period


def sla_target(config: Config, name: str) -> Target:
    """The named target, which must carry SLA terms to be reported on."""
    for target in config.targets:
        if target.name == name:
            if target.sla is None:
                raise SourceError(f"target {name!r} has no `sla:` terms in the config")
            return target
    known = ", ".join(t.name for t in config.targets)
    raise SourceError(f"no target named {name!r} in the config (targets: {known})")


def _load(
    config: Config,
    target: Target,
    period: Period,
    stores: Sequence[Path],
    prometheus: str | None,
    evidence: EvidenceView,
) -> SourceData:
    since, until = period.start_ns - MARGIN_NS, period.end_ns + MARGIN_NS
    zones = None if target.sla is None else target.sla.zones
    members = [] if zones is None else [name for name in zones.targets if name != target.name]
    if prometheus is not None:
        if members:
            raise SourceError(
                f"target {target.name!r}: an SLA over several targets (sla.zones) is judged"
                " from the evidence stores; a report from Prometheus reads one target"
            )
        return load_prometheus_samples(
            prometheus, config, target.name, since, until, require_from_ns=period.start_ns
        )
    return load_store_samples(stores, config, since, until, target=target.name,
                              members=members, evidence=evidence)  # fmt: skip


def _named_samples(samples: dict[str, Any], data: SourceData) -> dict[str, Any]:
    """The period's sample counts, each imported file's count with the file's name."""
    if not samples.get("imported_files"):
        return samples
    names = {f["file_sha256"]: f["file_name"] for f in data.imported}
    named = [{**f, "file_name": names.get(f["file_sha256"])} for f in samples["imported_files"]]
    return {**samples, "imported_files": named}


def stamps_since(
    config: Config, stores: Sequence[Path], start_ns: int, evidence: EvidenceView
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The trusted timestamps made since the period began, each checked again (a stamp
    after the period still proves its records existed by then, unchanged), and per store
    which authorities vouched for which checkpoint and whether `at_least` of them did."""
    settings = config.checkpoints.timestamping
    roots: dict[str, bytes] = {}
    for authority in [] if settings is None else settings.sources:
        if authority.roots is not None:
            try:
                roots[authority.url] = read_bounded(authority.roots, DOCUMENT_LIMIT)
            except OSError as exc:
                problem = f"cannot read the TSA roots: {exc.strerror}"
                raise SourceError(f"{authority.roots}: {problem}") from None
    start = datetime.fromtimestamp(start_ns / 1e9, UTC)
    found, vouched = [], []
    for path in stores:
        recent = [
            stamp
            for stamp in stored_timestamps(evidence.store(path), roots=roots)
            if stamp.gen_time is None or datetime.fromisoformat(stamp.gen_time) >= start
        ]
        found += [{**dataclasses.asdict(stamp), "store": str(path)} for stamp in recent]
        groups = stamp_coverage.by_checkpoint(recent)
        quorum = settings.quorum if settings is not None else 1
        of = len(settings.sources) if settings is not None else len({s.url for s in recent})
        held = stamp_coverage.quorum(groups, quorum, of).as_json()
        checkpoints = [group.as_json() for group in groups]
        vouched.append({"store": str(path), **held, "checkpoints": checkpoints})
    return found, vouched


def witnessed_since(
    stores: Sequence[Path], start_ns: int, evidence: EvidenceView
) -> list[dict[str, Any]]:
    """Per store, the checkpoints since the period began that witnesses cosigned: a
    checkpoint the key holder rewrote after that keeps its cosigners' names, with why
    their cosignatures no longer match."""
    found = []
    for path in stores:
        listed = witnessed_checkpoints(evidence.store(path))
        recent = [c for c in listed if not isinstance(c["ts_ns"], int) or c["ts_ns"] >= start_ns]
        found.append({"store": str(path), "checkpoints": recent})
    return found


def with_paths(
    incidents: Sequence[Incident],
    stores: Sequence[Path],
    target: str,
    period: Period,
    evidence: EvidenceView,
) -> list[Incident]:
    """Each incident with its first path trace, when one was taken during it: the hop where
    the path stopped answering, and whether that is the provider's side or upstream."""
    found = []
    for path in stores:
        rows = evidence.store(path).records(target=target, types=[DIAGNOSIS],
                                            since_ns=period.start_ns,
                                            until_ns=period.end_ns + MARGIN_NS)  # fmt: skip
        found += [row.record for row in rows]
    return [_with_path(incident, found) for incident in incidents]


def _with_path(incident: Incident, diagnoses: Sequence[dict[str, Any]]) -> Incident:
    start = datetime.fromisoformat(incident.start.replace("Z", "+00:00")).timestamp()
    end = datetime.fromisoformat(incident.end.replace("Z", "+00:00")).timestamp()
    for diagnosis in diagnoses:
        attempt = diagnosis.get("attempt")
        ts_ns = attempt.get("ts_ns") if isinstance(attempt, dict) else None
        # incident bounds are whole seconds, rounded to the nearest: allow for it
        if isinstance(ts_ns, int) and start - 1 <= ts_ns / 1e9 < end:
            verdict = path_verdict(diagnosis)
            if verdict is not None:
                return msgspec.structs.replace(incident, path=verdict)
    return incident


def make_report(
    config: Config,
    target_name: str,
    choice: PeriodChoice,
    stores: Sequence[Path],
    prometheus: str | None,
    out_dir: Path,
    formats: set[str],
    langs: set[str],
    *,
    records_sha256: str | None = None,
    warn: Callable[[str], None] | None = None,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
    evidence: EvidenceView | None = None,
    anchors: Sequence[Anchor] | None = None,
    custody_event: bool = True,
) -> ReportOutcome:
    """Compute the SLA figures of one target over one period and write the report.

    The stores' records are anchored first (`anchors`, which a bundle passes; otherwise a
    fresh signed checkpoint of the config's own store and the latest stored one of any
    other): the first page names them and the PDFs carry the proofs against them.

    `progress` hears of each step as it starts (a terminal's view of a long report). A
    folder already holding a report is refused before any work, unless `force`. Every read
    of a store goes through `evidence` (a bundle passes its own, so the stores are opened
    once for the whole bundle); without it the report opens each store once for itself."""
    try:
        check_folder_target(out_dir, REPORT_FILES, replace=force)
    except OutputPathError as exc:
        raise RenderError(str(exc)) from None
    step = progress or (lambda message: None)
    target = sla_target(config, target_name)
    assert target.sla is not None
    period = choice.resolve(target.sla.timezone)
    source = prometheus or ", ".join(map(str, stores))
    step(f"reading {source}" + ("" if prometheus else " and verifying its chain"))
    with ExitStack() as held_open:
        view = evidence or held_open.enter_context(EvidenceView())
        if anchors is None and prometheus is None:
            step("signing a checkpoint of the evidence store")
            anchors = anchor_stores(config, stores, view)[0]
        outcome = _report(config, target, period, stores, prometheus, out_dir, formats, langs,
                          view, anchors or [], records_sha256=records_sha256, warn=warn,
                          step=step)  # fmt: skip
    if custody_event and prometheus is None:  # a bundle records its zip instead
        record_made(config, stores, "report", out_dir, outcome.paths, target=target.name,
                    period=period, warn=warn)  # fmt: skip
    return outcome


def _report(
    config: Config,
    target: Target,
    period: Period,
    stores: Sequence[Path],
    prometheus: str | None,
    out_dir: Path,
    formats: set[str],
    langs: set[str],
    evidence: EvidenceView,
    anchors: Sequence[Anchor],
    *,
    records_sha256: str | None,
    warn: Callable[[str], None] | None,
    step: Callable[[str], None],
) -> ReportOutcome:
    data = _load(config, target, period, stores, prometheus, evidence)
    with background_for(len(data.samples)) as background:
        writer = ReportWriter(out_dir, formats, langs, background)
        writer.start_samples_csv(data.samples)
        step(f"computing the SLA figures from {len(data.samples):,} samples")
        held = stores if prometheus is None else [path for path in stores if path.is_file()]
        result = evaluate_with_contacts(data.samples, data.notes, config, target, held, period,
                                        evidence=evidence)  # fmt: skip
        figures = result.figures
        timestamps: list[dict[str, Any]] | UnsetType = UNSET
        trusted_time: list[dict[str, Any]] | UnsetType = UNSET
        witnessed: list[dict[str, Any]] | UnsetType = UNSET
        if prometheus is None:
            timestamps, trusted_time = stamps_since(config, stores, period.start_ns, evidence)
            witnessed = witnessed_since(stores, period.start_ns, evidence)
            incidents = with_paths(figures.incidents, stores, target.name, period, evidence)
            figures = msgspec.structs.replace(figures, incidents=incidents)
        complaint, sla_source = complaint_file(
            held, target, period, summary_document(figures), evidence
        )
        fields = msgspec.structs.asdict(figures)
        fields["samples"] = _named_samples(figures.samples, data)
        signing = DocumentSigning.of(config)
        if isinstance(signing.signer, str) and config.documents.sign and warn is not None:
            warn(f"the PDFs are not signed: {signing.signer}")
        origins: list[dict[str, Any]] | UnsetType = UNSET
        if prometheus is None:
            assert isinstance(witnessed, list) and isinstance(trusted_time, list)
            origins = provenance(anchors, witnessed, trusted_time, period.end_ns)
        report = ReportSummary(
            **fields,
            stores=data.stores,
            caveats=list(data.caveats) if data.caveats else UNSET,
            timestamps=timestamps,
            trusted_time=trusted_time,
            witnessed=witnessed,
            complaint_file=complaint,
            sla_source=sla_source,
            provenance=origins,
            custody=UNSET if prometheus else custody_events(stores, evidence, target.name),
            document_signing=signing.facts,
        )
        facts = method_facts(config, summary_document(report), data.collector_records)
        summary = summary_document(msgspec.structs.replace(report, method_statement=facts))
        step(f"writing {', '.join(sorted(formats))} into {out_dir}")
        paths = writer.write(
            summary,
            result.timeline,
            result.daily,
            data.samples,
            records_sha256=records_sha256,
            warn=warn,
            pdf=signing.parts(summary, anchors, evidence, warn),
        )
    return ReportOutcome(summary, paths, period)


def make_bundle(
    config: Config,
    config_path: Path,
    target_name: str,
    choice: PeriodChoice,
    stores: Sequence[Path],
    zip_path: Path,
    langs: set[str],
    *,
    warn: Callable[[str], None] | None = None,
    progress: Callable[[str], None] | None = None,
    formats: set[str] | None = None,
    force: bool = False,
) -> tuple[ReportOutcome, BundleInfo]:
    """The report and its evidence in one zip: the stores anchored first (a fresh signed
    checkpoint of the config's own store), their records staged, then the report that cites
    them, the proofs of the records it cites, and the zip with its manifest. `formats`
    (default: every one) are the report's; a machine without WeasyPrint can leave out the
    PDF. An existing file at `zip_path` is refused before the checkpoint is signed,
    unless `force`."""
    try:
        check_file_target(zip_path, replace=force)
    except OutputPathError as exc:
        raise BundleError(str(exc)) from None
    target = sla_target(config, target_name)
    assert target.sla is not None
    period = choice.resolve(target.sla.timezone)
    since, until = period.start_ns - MARGIN_NS, period.end_ns + MARGIN_NS
    hosts = [target.name, *(c.name for c in config.controls)]
    step = progress or (lambda message: None)
    step("signing a checkpoint of the evidence store")
    staging_folder = tempfile.TemporaryDirectory(prefix="slawitness-bundle-")
    with EvidenceView() as evidence, staging_folder as staging:
        anchors, key = anchor_stores(config, stores, evidence)
        limits = [anchor.limit for anchor in anchors]
        records = stage_records(
            Path(staging), stores, hosts, since, until, limits=limits, evidence=evidence
        )
        report_dir = Path(staging) / "report"
        outcome = make_report(
            config,
            target_name,
            choice,
            stores,
            None,
            report_dir,
            formats or {"json", "html", "pdf", "csv", "letter"},
            langs,
            records_sha256=records.chain_sha256,
            warn=warn,
            progress=progress,
            evidence=evidence,
            anchors=anchors,
            custody_event=False,
        )
        step("proving the cited records")
        proofs = prove(records, anchors, outcome.summary, key, warn, evidence)
        documents = carried_attachments(outcome.summary, records.segments, proofs.anchors, warn)
        verify = list(outcome.summary.get("stores", []))
        info = write_bundle(
            zip_path,
            report_dir=report_dir,
            records=records,
            config_path=config_path,
            config=config,
            verify_results=verify,
            period_end_ns=period.end_ns,
            proofs=proofs,
            attachments=documents,
            force=force,
            custody=outcome.summary.get("custody"),
        )
    record_made(config, stores, "bundle", zip_path, [zip_path], target=target.name,
                period=period, warn=warn, known_sha256={zip_path: info.sha256})  # fmt: skip
    return outcome, info


__all__ = ["PeriodChoice", "ReportOutcome", "make_bundle", "make_report"]
