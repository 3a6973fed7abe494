"""The one error a bundle can fail with, apart from the report's own (`render_errors`)."""

from __future__ import annotations

from collector.portable.errors import ReportError


class BundleError(ReportError):
    """The bundle could not be written; the message says why in one line."""
