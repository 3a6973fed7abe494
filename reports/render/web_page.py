"""The web view's page: server-rendered HTML, in English or Chinese, that works without scripts.

Every value is escaped by Jinja's autoescape (target names, notes and error classes come from
users and remote servers). The page refreshes itself: a small script reloads it while it is
visible, and without scripts a `<noscript>` meta refresh does. The language is `?lang=` when
given, else the first of the browser's Accept-Language that the page speaks, else English.
`reports.web_pages` serves it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from reports.render.html import template_environment

PAGE_LANGS = ("en", "zh")

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "slawitness", "vantage": "Vantage", "generated": "Figures as of",
        "computing": "The figures are being computed; this page refreshes itself.",
        "problem": "The latest refresh failed", "probes": "Probes", "no_records": "no records yet",
        "down_since": "down since", "period": "This period", "uptime": "Uptime",
        "objective": "SLA", "budget_left": "Downtime left in the budget",
        "breached": "BREACHED", "over": "over the budget", "no_samples": "no samples yet",
        "incidents": "Incidents this period", "no_incidents": "No incidents this period.",
        "start": "Start", "end": "End", "counted": "Counted", "attribution": "Attribution",
        "not_counted": "not counted", "open_claims": "Open claims", "claim_by": "claim by",
        "days_left": "days left", "no_window": "no claim window in the SLA",
        "credit": "credit", "checkpoint": "Latest signed checkpoint",
        "no_checkpoint": "No checkpoint signed yet.", "records": "records", "signed": "signed",
        "root": "root", "notes": "Notes this period", "refresh": "Refreshes every",
        "seconds": "s",
        "UP": "UP", "DOWN": "DOWN", "STALE": "STALE", "UNKNOWN": "UNKNOWN",
        "get_report": "Report (PDF)", "get_bundle": "Evidence bundle (zip)",
        "building": "Building takes a few seconds.",
    },
    "zh": {
        "title": "slawitness", "vantage": "观测点", "generated": "数据截至",
        "computing": "正在计算数据;本页会自动刷新。",
        "problem": "最近一次刷新失败", "probes": "探测", "no_records": "尚无记录",
        "down_since": "中断开始于", "period": "本计费周期", "uptime": "可用率",
        "objective": "SLA 承诺", "budget_left": "剩余可容忍中断时间",
        "breached": "已违约", "over": "超出预算", "no_samples": "尚无样本",
        "incidents": "本周期故障", "no_incidents": "本周期没有故障。",
        "start": "开始", "end": "结束", "counted": "计入", "attribution": "责任归属",
        "not_counted": "不计入", "open_claims": "待提出的索赔", "claim_by": "索赔截止",
        "days_left": "天剩余", "no_window": "SLA 未规定索赔期限",
        "credit": "补偿", "checkpoint": "最新签名检查点",
        "no_checkpoint": "尚未签署检查点。", "records": "条记录", "signed": "签署于",
        "root": "根哈希", "notes": "本周期备注", "refresh": "刷新间隔",
        "seconds": "秒",
        "UP": "正常", "DOWN": "中断", "STALE": "数据过期", "UNKNOWN": "未知",
        "get_report": "报告 (PDF)", "get_bundle": "证据包 (zip)",
        "building": "生成需要几秒钟。",
    },
}  # fmt: skip


def page_lang(query_lang: str | None, accept_language: str) -> str:
    """`?lang=` if the page speaks it, else the browser's first language it speaks."""
    if query_lang in PAGE_LANGS:
        return query_lang
    for part in accept_language.split(","):
        primary = part.split(";")[0].strip().lower().split("-")[0]
        if primary in PAGE_LANGS:
            return primary
    return "en"


@cache
def _template() -> jinja2.Template:
    """The report's Jinja environment and filters (`utc`, `duration`), so times and
    durations read as they do in the report."""
    return template_environment(autoescape=True).get_template("web_view.html.j2")


def render_page(
    view: dict[str, Any] | None,
    problem: str | None,
    lang: str,
    refresh_s: float,
    downloads: bool = False,
) -> bytes:
    """The whole page for one request, from `ViewState.as_json()` (None: not computed yet);
    `downloads` shows the report and bundle buttons."""
    shown = _template().render(
        view=view, problem=problem, t=TEXT[lang], lang=lang, refresh_s=int(refresh_s),
        downloads=downloads,
    )  # fmt: skip
    return shown.encode()
