"""The exporter's pages for a person: the web view at `/`, its figures at `/view.json`, and
its download buttons at `POST /download`.

The exporter's server (`collector.prometheus.server`) knows only that a path may be a page;
this module says which paths are, from the figures `reports.web_view` keeps fresh, the HTML
`reports.render.web_page` draws and the builds `reports.web_downloads` runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from http import HTTPStatus

from collector.portable.errors import ReportError
from collector.prometheus.server import Page, PageSource
from reports.render.web_page import page_lang, render_page
from reports.web_downloads import DownloadRefused, Downloads
from reports.web_view import WebView

NO_STORE = {"Cache-Control": "no-store"}


def web_pages(view: WebView, downloads: Downloads | None = None) -> PageSource:
    """The exporter's pages: `/` (the web view), `/view.json` (the same figures) and, with
    `downloads`, `POST /download` (a period's report or bundle)."""

    def page(
        method: str, path: str, fields: Mapping[str, list[str]], accept_language: str
    ) -> Page | None:
        def field(name: str) -> str:
            given = fields.get(name)
            return given[0] if given else ""

        if method == "POST":
            if path != "/download" or downloads is None:
                return None
            return _download(downloads, field)
        if path not in ("/", "/view.json"):
            return None
        state, problem = view.state()  # a look: only these two paths keep the figures fresh
        if path == "/":
            lang = page_lang(field("lang") or None, accept_language)
            shown = state.as_json() if state is not None else None
            body = render_page(shown, problem, lang, view.refresh_s, downloads is not None)
            return Page(body, "text/html; charset=utf-8", headers=NO_STORE)
        feed = {**(state.as_json() if state else {}), "problem": problem}
        body = json.dumps(feed, ensure_ascii=False).encode()
        return Page(body, "application/json", headers=NO_STORE)

    return page


def _download(downloads: Downloads, field: Callable[[str], str]) -> Page:
    """The built file as an attachment, or one line saying why there is none."""
    try:
        built = downloads.build(field("kind"), field("target"), field("period"), field("lang"))
    except DownloadRefused as exc:
        return Page(f"{exc}\n".encode(), "text/plain; charset=utf-8", HTTPStatus.BAD_REQUEST)
    except ReportError as exc:
        message = f"{exc}\n".encode()
        return Page(message, "text/plain; charset=utf-8", HTTPStatus.INTERNAL_SERVER_ERROR)
    disposition = f'attachment; filename="{built.filename}"'
    return Page(built.body, built.content_type, headers={**NO_STORE,
                "Content-Disposition": disposition})  # fmt: skip
