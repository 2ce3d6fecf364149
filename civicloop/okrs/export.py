"""The one-page OKR report for a cabinet or scrutiny committee: HTML to print, and the same
HTML as a PDF (WeasyPrint). Everything on it comes from the same data as the pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.template.loader import render_to_string
from django.utils import timezone

from civicloop.okrs import api
from civicloop.okrs.quarters import Quarter
from civicloop.organizations.models import Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User


class PdfUnavailable(Exception):
    pass


def report_data(user: User, quarter: Quarter, team: Team | None = None) -> dict[str, Any]:
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
    krs = [k for m in data["missions"] for o in m["objectives"] for k in o["key_results"]]
    counts = {"on_track": 0, "at_risk": 0, "off_track": 0, "unknown": 0}
    for k in krs:
        counts[k["status"]["confidence"] or "unknown"] += 1
    return {
        **data,
        "title": title,
        "team": team.name if team else None,
        "team_slug": team.slug if team else None,
        "generated": timezone.localtime().strftime("%d %b %Y %H:%M"),
        "counts": counts,
        "key_result_count": len(krs),
    }


def filename(data: dict[str, Any]) -> str:
    who = data["team_slug"] or "organization"
    return f"okrs-{who}-{data['quarter']['code']}"


def render_html(data: dict[str, Any]) -> str:
    return render_to_string("okrs/report.html", data)


def render_pdf(data: dict[str, Any]) -> bytes:
    return pdf_with_pages(data)[0]


def pdf_with_pages(data: dict[str, Any]) -> tuple[bytes, int]:
    """The PDF and how many pages it has (the report is meant to fit on one)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as error:  # OSError: the Pango library is missing
        raise PdfUnavailable(
            "PDF export needs WeasyPrint and the Pango library (Debian: apt-get install "
            f"libpango-1.0-0 libpangoft2-1.0-0). The HTML report prints the same page. ({error})"
        ) from None
    document = HTML(string=render_html(data)).render()
    return bytes(document.write_pdf()), len(document.pages)
