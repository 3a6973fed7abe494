"""What a report's PDFs carry and who signs them, drawn from the config and the anchors.

The report and the bundle both make their PDFs through this: the files embedded (summary.json,
the cited records, checkpoints, proofs), the PAdES signature with the document certificate,
and the document timestamps from the config's authorities. Loading the certificate happens
before the PDF is drawn, so its first page can name the fingerprint it is signed with; a
certificate that cannot be loaded leaves the PDFs unsigned, with the reason on the page and
on stderr, never a failed report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.config.model import Config
from reports.bundle.embedded import embedded_evidence
from reports.bundle.proofs import Anchor
from reports.render.pdf import EmbeddedFile
from reports.render.pdf_signing import (
    DocumentSigner,
    SigningOutcome,
    authority_roots,
    authority_urls,
    load_document_signer,
    sign_pdf,
    signing_facts,
)
from reports.render.report_files import PdfParts
from reports.sources.evidence_view import EvidenceView

SIGNING_REASON = "slawitness: evidence of SLA breach, as measured and recorded"


@dataclass(frozen=True)
class DocumentSigning:
    """The config's signer (or why there is none) and the authorities it will ask."""

    config: Config
    signer: DocumentSigner | str
    silent: set[str] = field(default_factory=set)
    """Authorities that did not answer for an earlier PDF of this report: not asked again,
    so a hanging one costs its timeout once, not once per PDF."""

    @classmethod
    def of(cls, config: Config) -> DocumentSigning:
        return cls(config, load_document_signer(config))

    @property
    def facts(self) -> dict[str, Any]:
        """summary.json's `document_signing`."""
        return signing_facts(self.config, self.signer)

    @property
    def timestamped(self) -> bool:
        return not isinstance(self.signer, str) and bool(authority_urls(self.config))

    def sign(self, path: Path, ask_authorities: bool) -> SigningOutcome:
        """Sign `path` in place; with `ask_authorities`, time-stamped by them too."""
        assert not isinstance(self.signer, str)
        asked = [u for u in authority_urls(self.config) if u not in self.silent]
        outcome = sign_pdf(
            path,
            self.signer,
            asked if ask_authorities else [],
            reason=SIGNING_REASON,
            location=self.config.vantage,
            timeout=self.config.documents.timeout,
            roots=authority_roots(self.config),
        )
        if ask_authorities:
            self.silent.update(set(asked) - {stamp["url"] for stamp in outcome.timestamps})
        return outcome

    def parts(
        self,
        summary: Mapping[str, Any],
        anchors: Sequence[Anchor],
        evidence: EvidenceView,
        warn: Callable[[str], None] | None,
    ) -> PdfParts:
        """The report's PdfParts: its evidence embedded, signed when a signer loaded."""

        def embed(summary_bytes: bytes) -> list[EmbeddedFile]:
            return embedded_evidence(summary_bytes, summary, anchors, evidence, warn)

        signed = not isinstance(self.signer, str)
        return PdfParts(
            embed=embed,
            sign=self.sign if signed else None,
            timestamped=self.timestamped,
        )


__all__ = ["DocumentSigning"]
