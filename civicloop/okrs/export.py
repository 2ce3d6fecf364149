"""The one-page OKR report for a cabinet or scrutiny committee: HTML to print, and the same
HTML as a PDF (WeasyPrint). Everything on it comes from the same data as the pages.

The report lists every key result when they fit on one A4 page. When they do not, it turns
exceptions-first: every objective as one row (progress and its key results counted by status),
then in full only the key results that need attention (off track or failing the target first,
then at risk or hit and miss), as many as fit, and a line saying how many others are not listed
and where the full list is. Whether it fits is measured by laying the page out with WeasyPrint;
without WeasyPrint (the HTML report only) it is estimated from the rows' lengths."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from civicloop.core import pdf
from civicloop.core.pdf import PdfUnavailable
from civicloop.okrs import api
from civicloop.okrs.quarters import Quarter
from civicloop.organizations.models import Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User


# How a key result is counted on the report. Assurance from the data and the owner's confidence
# at a check-in are counted apart: "hit and miss" is not "at risk".
DATA_KINDS = {"consistent_pass": "pass", "inconsistent": "mixed", "consistent_fail": "fail"}
# Colour of the status badge and count cells (the confidence words' classes).
KIND_CLASS = {
    "pass": "on_track",
    "mixed": "at_risk",
    "fail": "off_track",
    "on_track": "on_track",
    "at_risk": "at_risk",
    "off_track": "off_track",
}
# Needing attention: 2 = off track or failing the target, 1 = at risk or hit and miss.
SEVERITY = {"fail": 2, "off_track": 2, "mixed": 1, "at_risk": 1}
TIERS = {2: "Off track or failing the target", 1: "At risk or hit and miss"}
COUNTED = ("pass", "mixed", "fail", "on_track", "at_risk", "off_track", "unjudged", "withheld")

# The estimate used without WeasyPrint, in millimetres of the page's 275 mm of content, measured
# against WeasyPrint's layout of report.html: the demo city's 16 key results (estimated 261 mm)
# take two pages, its 14 (246 mm) one. The budget keeps a margin: an objective's key results
# stay together, so a page break can leave part of a page empty.
FULL_BUDGET_MM = 250.0
COMPACT_BUDGET_MM = 265.0
HEAD_MM = 27.0  # title, dates, summary, the note on statuses
MISSION_MM = 13.0  # heading, public value, table head
COMPACT_HEAD_MM = 2 * MISSION_MM + 14.0  # two headings, two table heads, the longer note
OBJECTIVE_MM = 5.6
ROW_MM = 4.2
LINE_MM = 3.4  # one more line of a wrapped row
TITLE_CHARS = 44  # characters of a key result's title per line
OBJECTIVE_CHARS = 50  # of an objective's title in the compact table
NOTE_MM = 12.0


def report_status(row: dict[str, Any]) -> dict[str, Any]:
    """How the report shows and counts one key result: `kind` (pass, mixed, fail from the
    data; on_track, at_risk, off_track from a check-in; unjudged; withheld; dropped), the
    words in its status column and the badge's class."""
    status = row["status"]
    if row.get("outcome") == "dropped":
        return {"kind": "dropped", "label": "Dropped", "css": "", "severity": 0}
    source = status.get("source")
    if source == "withheld":
        kind = "withheld"
    elif source == "data":
        kind = DATA_KINDS.get(status.get("code") or "", "unjudged")
    elif source == "check-in" and status.get("code") in ("on_track", "at_risk", "off_track"):
        kind = status["code"]
    else:
        kind = "unjudged"
    label = status.get("short") if source == "data" else None
    return {
        "kind": kind,
        "label": label or status.get("label") or "Not judged yet",
        "css": KIND_CLASS.get(kind, ""),
        "severity": SEVERITY.get(kind, 0),
    }


def _count(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys((*COUNTED, "dropped"), 0)
    for row in rows:
        counts[row["report_status"]["kind"]] += 1
    return counts


def summary_sentence(data: dict[str, Any], *, total: bool = True) -> str:
    """The counts at the top of the report, as one sentence: what the data says and what the
    owners said apart, dropped key results left out (`total`: starting with how many)."""
    c = data["counts"]
    withheld = f"; {c['withheld']} withheld (data you may not see)" if c["withheld"] else ""
    counts = (
        f"From the data: {c['pass']} pass, {c['mixed']} hit and miss, {c['fail']} fail; from "
        f"check-ins: {c['on_track']} on track, {c['at_risk']} at risk, {c['off_track']} off "
        f"track; {c['unjudged']} not judged yet{withheld}"
    )
    if not total:
        dropped = f"; {c['dropped']} dropped, not counted" if c["dropped"] else ""
        return f"{counts}{dropped}."
    dropped = f" ({c['dropped']} dropped, not counted)" if c["dropped"] else ""
    return f"{data['key_result_count']} key results{dropped}. {counts}."


def full_list_url(quarter_code: str, team_slug: str | None) -> str:
    """Where the full list is: the HTML report (on screen it lists every key result)."""
    query = {"quarter": quarter_code, **({"team": team_slug} if team_slug else {})}
    return f"{settings.SITE_URL}{reverse('okrs:report')}?{urlencode(query)}"


def report_data(
    user: User, quarter: Quarter, team: Team | None = None, *, full: bool = False
) -> dict[str, Any]:
    """The report's data, and its layout: "full" when every key result fits on one page (or
    `full` asks for every one, over as many pages as it takes), else "compact"."""
    if team is not None:
        team_data = api.team_okrs_data(team, quarter, user, timezone.localdate())
        missions: dict[str, dict[str, Any]] = {}
        for objective in team_data["objectives"]:
            entry = missions.setdefault(
                objective["mission"], {"title": objective["mission"], "objectives": []}
            )
            entry["objectives"].append(objective)
        data = {
            "quarter": team_data["quarter"],
            "missions": list(missions.values()),
            "closed": team_data["closed"],
        }
        title = f"{team.name}: objectives and key results, {quarter.label}"
    else:
        data = api.tree_data(user, quarter)
        data["missions"] = [m for m in data["missions"] if m["objectives"]]
        data["closed"] = None
        title = f"Objectives and key results, {quarter.label}"
    krs: list[dict[str, Any]] = []
    for mission in data["missions"]:
        for objective in mission["objectives"]:
            for k in objective["key_results"]:
                k["report_status"] = report_status(k)
            objective["report_counts"] = _count(objective["key_results"])
            krs += objective["key_results"]
    attention = sorted(
        (k for k in krs if k["report_status"]["severity"]),
        key=lambda k: -k["report_status"]["severity"],  # stable: the tree's order within a tier
    )
    for rank, k in enumerate(attention):
        k["report_status"]["rank"] = rank  # the compact report lists the first ones that fit
    data.update(
        title=title,
        team=team.name if team else None,
        team_slug=team.slug if team else None,
        generated=timezone.localtime().strftime("%d %b %Y %H:%M"),
        counts=_count(krs),
        key_result_count=len(krs),
        attention_all=attention,
        full_list_url=full_list_url(data["quarter"]["code"], team.slug if team else None),
    )
    if full:
        _set_layout(data, "full")
    else:
        _fit(data)
    return data


def _set_layout(data: dict[str, Any], layout: str, listed: int | None = None) -> None:
    """The full listing, or the compact one listing the first `listed` key results that need
    attention (all of them by default)."""
    data["layout"] = layout
    data["compact"] = layout == "compact"
    attention = data["attention_all"] if listed is None else data["attention_all"][:listed]
    data["attention"] = attention if layout == "compact" else []
    tiers = []
    for severity, heading in TIERS.items():
        rows = [k for k in attention if k["report_status"]["severity"] == severity]
        total = sum(1 for k in data["attention_all"] if k["report_status"]["severity"] == severity)
        if total:
            tiers.append({"heading": heading, "rows": rows, "total": total})
    data["attention_tiers"] = tiers if layout == "compact" else []
    data["not_listed"] = _not_listed(data) if layout == "compact" else None


def _not_listed(data: dict[str, Any]) -> dict[str, Any]:
    """The key results the compact report does not list, counted by why."""
    counts = data["counts"]
    unlisted_attention = len(data["attention_all"]) - len(data["attention"])
    parts = [
        (unlisted_attention, "that need attention but did not fit"),
        (counts["pass"] + counts["on_track"], "on track or passing the target"),
        (counts["unjudged"], "not judged yet"),
        (counts["withheld"], "withheld (data you may not see)"),
        (counts["dropped"], "dropped"),
    ]
    return {
        "count": data["key_result_count"] - len(data["attention"]),
        "parts": [f"{n} {words}" for n, words in parts if n],
    }


def _fit(data: dict[str, Any]) -> None:
    """One page: every key result if they fit, else exceptions-first with as many key results
    that need attention as fit."""
    try:
        _fit_by_layout(data)
    except PdfUnavailable:
        _fit_by_estimate(data)


def _fit_by_layout(data: dict[str, Any]) -> None:
    if _estimate_full_mm(data) <= FULL_BUDGET_MM * 1.3:  # else plainly too long: skip laying it out
        _set_layout(data, "full")
        if _layout(data)[1] == 1:
            return
    _set_layout(data, "compact")
    document, pages = _layout(data)
    listed = len(data["attention_all"])
    while pages > 1 and listed > 0:
        on_first = document.pages[0].anchors
        fitted = sum(1 for i in range(listed) if f"attention-{i}" in on_first)
        # Leave room for the line saying what is not listed, which grows by a part.
        listed = max(0, min(listed - 1, fitted - 1))
        _set_layout(data, "compact", listed)
        document, pages = _layout(data)


def _lines(text: str, chars: int) -> int:
    return max(1, math.ceil(len(text) / chars))


def _kr_text(k: dict[str, Any]) -> str:
    unit = f" ({k['unit']})" if k.get("unit") and k.get("kind") == "measure" else ""
    outcome = f" — {k['outcome_label']}, 100 %" if k.get("outcome") else ""
    return f"{k['title']}{unit}{outcome}"


def _estimate_full_mm(data: dict[str, Any]) -> float:
    height = HEAD_MM
    for mission in data["missions"]:
        height += MISSION_MM
        for objective in mission["objectives"]:
            height += OBJECTIVE_MM + LINE_MM * (_lines(objective["title"], 90) - 1)
            for k in objective["key_results"] or [None]:
                lines = _lines(_kr_text(k), TITLE_CHARS) if k else 1
                height += ROW_MM + LINE_MM * (lines - 1)
    return height


def _estimate_compact_mm(data: dict[str, Any], listed: int) -> float:
    height = HEAD_MM + COMPACT_HEAD_MM + NOTE_MM
    for mission in data["missions"]:
        height += ROW_MM
        for objective in mission["objectives"]:
            lines = _lines(objective["title"], OBJECTIVE_CHARS)
            height += ROW_MM + LINE_MM * (lines - 1)
    for k in data["attention_all"][:listed]:
        height += ROW_MM + LINE_MM * (_lines(_kr_text(k), TITLE_CHARS) - 1)
    return height + ROW_MM * len(TIERS)


def _fit_by_estimate(data: dict[str, Any]) -> None:
    if _estimate_full_mm(data) <= FULL_BUDGET_MM:
        _set_layout(data, "full")
        return
    listed = len(data["attention_all"])
    while listed > 0 and _estimate_compact_mm(data, listed) > COMPACT_BUDGET_MM:
        listed -= 1
    _set_layout(data, "compact", listed)


def filename(data: dict[str, Any]) -> str:
    who = data["team_slug"] or "organization"
    return f"okrs-{who}-{data['quarter']['code']}"


def render_html(data: dict[str, Any]) -> str:
    """The report; in the compact layout, the full list follows the page on screen only."""
    if "layout" not in data:
        _set_layout(data, "full")
    return render_to_string("okrs/report.html", data)


def render_pdf(data: dict[str, Any]) -> bytes:
    return pdf_with_pages(data)[0]


def _layout(data: dict[str, Any]) -> tuple[Any, int]:
    """WeasyPrint's layout of the report (kept in the data, so that the PDF is not laid out
    again), and its number of pages."""
    html_class = pdf.html_class()
    html = render_html(data)
    cached = data.get("_layout")
    if cached is not None and cached[0] == html:
        document = cached[1]
    else:
        document = html_class(string=html).render()
        data["_layout"] = (html, document)
    return document, len(document.pages)


def pdf_with_pages(data: dict[str, Any]) -> tuple[bytes, int]:
    """The PDF and how many pages it has (the report is meant to fit on one)."""
    document, pages = _layout(data)
    return bytes(document.write_pdf()), pages
