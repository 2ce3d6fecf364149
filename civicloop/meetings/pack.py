"""A meeting's pack: one document (HTML, and PDF from the same HTML) for the conversation.

Cover; what needs attention; each agenda metric with its SPC chart, its definition in plain
words, its commentary and the sentences that explain its icons; OKR status; A3 summaries; the
actions log. Page numbers and a table of contents in print.

Issuing a pack freezes it: `snapshot` holds every word, number and drawn chart the pack shows,
and `sources` the metric versions, series runs and dataset versions they came from. Rendering
reads only the snapshot, so an issued pack renders the same bytes of HTML however the data is
refreshed later. Before a pack is issued, the meeting's draft pack is built live.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import OrderedDict
from datetime import date
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Max, Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.text import slugify

from civicloop.core import pdf
from civicloop.core.pdf import PdfUnavailable
from civicloop.meetings import attention, services
from civicloop.meetings.models import Action, ItemKind, ItemSource, Meeting, MeetingState, Pack
from civicloop.metrics import spc as metric_spc
from civicloop.metrics.describe import describe
from civicloop.metrics.services import latest_run

if TYPE_CHECKING:
    from civicloop.accounts.models import User
    from civicloop.metrics.models import Metric

__all__ = ["PdfUnavailable", "build_snapshot", "filename", "issue", "render_html", "render_pdf"]

FORMAT = 1
CHART_W = 680
CHART_H = 230


def _person(user: Any) -> str | None:
    return user.full_name if user is not None else None


def _metric_entry(
    item: Any,
    user: User,
    commentary: dict[int, Any],
    all_metrics: list[Metric],
    totals: dict[int, attention.Card],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One agenda metric as the pack shows it, and where its numbers came from."""
    from civicloop.improvement.charts import metric_chart

    metric: Metric = item.metric
    run = latest_run(metric)
    version = metric.current_version
    assert version is not None
    definition = version.parsed()
    drawn = metric_chart(
        metric, user, breakdown=item.breakdown, value=item.value, width=CHART_W, height=CHART_H
    )
    if item.breakdown:
        found = attention.cards(
            metric.team,
            user,
            breakdown=item.breakdown,
            value=item.value,
            metrics=[m for m in all_metrics if m.pk == metric.pk],
        )
        card = found[0] if found else None
    else:
        card = totals.get(metric.pk)
    data = attention.card_data(card) if card else {}
    c = commentary.get(metric.pk)
    entry = {
        "anchor": f"metric-{metric.slug}",
        "slug": metric.slug,
        "name": metric.name,
        "series": f"{item.breakdown.replace('_', ' ')} {item.value}".strip() or "Total",
        "reason": item.reason if item.source == ItemSource.ADDED else "",
        "attention": [r["label"] for r in data.get("reasons", [])],
        "question": definition.question,
        "description": definition.description,
        "caveats": definition.caveats,
        "how": describe(definition),
        "unit": definition.unit,
        "version": version.number,
        "steward": _person(metric.steward),
        "latest": data.get("latest"),
        "target_text": data.get("target_text"),
        "variation": data.get("variation"),
        "direction": data.get("direction", "neutral"),
        "assurance": data.get("assurance"),
        "variation_label": data.get("variation_label"),
        "assurance_label": data.get("assurance_label"),
        "variation_sentence": data.get("variation_sentence"),
        "assurance_sentence": data.get("assurance_sentence"),
        "freshness": metric.dataset.freshness,
        "commentary": c,
        "chart": (
            {"spec": drawn.spec_json, "svg": drawn.svg(), "description": drawn.description}
            if drawn
            else None
        ),
    }
    source = {
        "metric": metric.slug,
        "name": metric.name,
        "metric_version": version.number,
        "metric_version_id": version.pk,
        "run_id": run.pk if run else None,
        "computed_at": run.computed_at.isoformat() if run else None,
        "computed_text": f"{timezone.localtime(run.computed_at):%d %b %Y, %H:%M}" if run else None,
        "dataset": metric.dataset.slug,
        "dataset_version": run.dataset_version.number if run and run.dataset_version else None,
        "dataset_version_id": run.dataset_version_id if run else None,
        "population_version_id": run.population_version_id if run else None,
    }
    return entry, source


def _action_row(a: Action, today: date) -> dict[str, Any]:
    linked = (
        a.metric.name
        if a.metric
        else a.key_result.title
        if a.key_result
        else a.a3.title
        if a.a3
        else ""
    )
    return {
        "text": a.text,
        "owner": _person(a.owner),
        "due_on": a.due_on.isoformat(),
        "due_text": f"{a.due_on:%d %b %Y}",
        "status": a.status,
        "overdue": a.is_overdue(today),
        "raised": f"{a.meeting.on:%d %b %Y}" if a.meeting else None,
        "linked": linked,
        "closing_note": a.closing_note,
        "done_text": f"{(a.done_on or a.dropped_on):%d %b %Y}"
        if (a.done_on or a.dropped_on)
        else None,
    }


def _a3_entries(meeting: Meeting, user: User, today: date) -> list[dict[str, Any]]:
    from civicloop.improvement.models import A3, State

    on_agenda = set(meeting.items.exclude(a3=None).values_list("a3_id", flat=True))
    a3s = (
        A3.objects.filter(team=meeting.team)
        .filter(~Q(state=State.CLOSED) | Q(pk__in=on_agenda))
        .select_related("owner")
        .prefetch_related("countermeasures", "actions")
    )
    out = []
    for a3 in a3s:
        if not a3.can_view(user):
            continue
        steps = list(a3.actions.all())
        out.append(
            {
                "anchor": f"a3-{a3.pk}",
                "title": a3.title,
                "state": a3.state_text,
                "owner": _person(a3.owner),
                "problem": a3.problem,
                "goal": a3.goal.strip()[:600],
                "review_on": f"{a3.review_on:%d %b %Y}" if a3.review_on else None,
                "due_for_review": bool(a3.review_on and a3.review_on <= meeting.on),
                "countermeasures": [
                    {"title": cm.title, "status": cm.get_status_display()}
                    for cm in a3.countermeasures.all()
                ],
                "steps_done": sum(1 for s in steps if s.done_on),
                "steps": len(steps),
                "steps_overdue": sum(1 for s in steps if s.is_overdue(today)),
            }
        )
    return out


def build_snapshot(
    meeting: Meeting, user: User, *, number: int | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Everything the pack shows, as plain data with its charts drawn, and its sources."""
    today = timezone.localdate()
    team = meeting.team
    items = list(
        meeting.items.select_related(
            "metric__steward",
            "metric__dataset__current_version",
            "metric__current_version",
            "metric__team",
            "key_result__metric",
            "a3",
            "action__owner",
        )
    )
    commentary = services.commentary_states(meeting)
    all_metrics = attention.team_metrics(team, user)
    totals = {c.metric.pk: c for c in attention.cards(team, user, metrics=all_metrics)}
    metrics, sources = [], []
    seen: set[tuple[int, str, str]] = set()
    for item in items:
        if item.kind != ItemKind.METRIC or item.metric is None:
            continue
        key = (item.metric.pk, item.breakdown, item.value)
        if key in seen or not item.metric.can_view(user):
            continue
        seen.add(key)
        entry, source = _metric_entry(item, user, commentary, all_metrics, totals)
        metrics.append(entry)
        sources.append(source)
    kr_rows = services._kr_rows(team, user, meeting.on)
    okrs: dict[str, dict[str, Any]] = {}
    for row in kr_rows:
        okrs.setdefault(row["objective"], {"objective": row["objective"], "key_results": []})[
            "key_results"
        ].append(
            {
                "title": row["title"],
                "owner": row["owner"],
                "status": row["report_status"]["label"],
                "kind": row["report_status"]["kind"],
                "severity": row["report_status"]["severity"],
                "current": row["current_text"],
                "target": row["target_text"],
                "progress_pct": row["progress_pct"],
            }
        )
    previous = services.previous_meeting(meeting)
    since = previous.on if previous else None
    actions = Action.objects.filter(team=team).select_related(
        "owner", "meeting", "metric", "key_result", "a3"
    )
    log = [
        _action_row(a, today)
        for a in actions
        if a.is_open
        or (since is not None and (a.done_on or a.dropped_on or today) >= since)
        or a.meeting_id == meeting.pk
    ]
    a3s = _a3_entries(meeting, user, today)
    agenda = [
        {
            "position": n + 1,
            "title": i.title,
            "kind": i.get_kind_display(),
            "kind_code": i.kind,
            "source": i.get_source_display(),
            "reason": i.reason,
            "anchor": f"metric-{i.metric.slug}"
            if i.metric_id and i.metric and i.metric.can_view(user)
            else None,
            "metric": i.metric.slug
            if i.metric
            else (i.key_result.metric.slug if i.key_result and i.key_result.metric else None),
        }
        for n, i in enumerate(items)
    ]
    asked = [
        {
            "metric": m["name"],
            "asked_of": (m["commentary"] or {}).get("asked_of"),
            "written": bool((m["commentary"] or {}).get("written")),
            "author": (m["commentary"] or {}).get("author"),
        }
        for m in metrics
    ]
    metric_count = sum(1 for i in items if i.kind == ItemKind.METRIC)
    counts = {
        "metrics": metric_count,
        "key_results_off": sum(1 for r in kr_rows if r["report_status"]["severity"] >= 2),
        "actions_open": sum(1 for a in log if a["status"] == "open"),
        "actions_overdue": sum(1 for a in log if a["overdue"]),
        "a3s_due": sum(1 for a in a3s if a["due_for_review"]),
        "commentary_written": sum(1 for a in asked if a["written"]),
        "commentary_asked": len(asked),
    }
    snapshot = {
        "format": FORMAT,
        "draft": number is None,
        "number": number,
        "team": {"name": team.name, "slug": team.slug, "purpose": team.purpose},
        "meeting": {
            "id": meeting.pk,
            "title": meeting.display_title,
            "on": meeting.on.isoformat(),
            "on_text": f"{meeting.on:%A %d %B %Y}",
            "starts_at": f"{meeting.starts_at:%H:%M}",
            "location": meeting.location,
            "chair": _person(meeting.chair),
            "previous": f"{previous.on:%d %b %Y}" if previous else None,
        },
        "as_of": today.isoformat(),
        "as_of_text": f"{today:%d %B %Y}",
        "issued_by": _person(user),
        "issued_at": f"{timezone.localtime():%d %b %Y, %H:%M}",
        "agenda": agenda,
        "counts": counts,
        "commentary": asked,
        "metrics": metrics,
        "okrs": list(okrs.values()),
        "a3s": a3s,
        "actions": log,
        "sources": sources,
    }
    return snapshot, sources


def _digest(snapshot: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(snapshot, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def issue(meeting: Meeting, user: User) -> Pack:
    """Freeze the meeting's pack as of now. Issuing again makes a new numbered pack; the
    earlier ones stay as they were."""
    if not meeting.can_change(user):
        raise services.NotAllowed("Only the team's leads and members issue its packs.")
    if meeting.state == MeetingState.CANCELLED:
        raise services.MeetingError.one("", "This meeting was cancelled: there is no pack.")
    if not meeting.items.exists():
        raise services.MeetingError.one(
            "", "The agenda is empty: draft it from the data, or add items, then issue the pack."
        )
    with transaction.atomic():
        number = (meeting.packs.aggregate(n=Max("number"))["n"] or 0) + 1
        snapshot, sources = build_snapshot(meeting, user, number=number)
        return Pack.objects.create(
            meeting=meeting,
            number=number,
            as_of=date.fromisoformat(snapshot["as_of"]),
            issued_by=user,
            snapshot=snapshot,
            sources=sources,
            digest=_digest(snapshot),
        )


def _readable(snapshot: dict[str, Any], reader: User | None) -> dict[str, Any]:
    """The snapshot as this reader may see it: a metric whose data they may not see is
    withheld (its name stays, its numbers and chart go)."""
    if reader is None or reader.is_superuser:
        return snapshot
    from civicloop.metrics.models import Metric

    slugs = {m["slug"] for m in snapshot["metrics"]} | {
        a["metric"] for a in snapshot["agenda"] if a.get("metric")
    }
    shown = {
        m.slug
        for m in Metric.objects.filter(slug__in=slugs).select_related(
            "team", "dataset", "current_version"
        )
        if not attention.numbers_hidden(m, reader)
    }
    if shown == slugs:
        return snapshot
    agenda = [
        {**a, "reason": attention.WITHHELD, "anchor": None}
        if a.get("metric") and a["metric"] not in shown
        else a
        for a in snapshot["agenda"]
    ]
    metrics = []
    for m in snapshot["metrics"]:
        if m["slug"] in shown:
            metrics.append(m)
        else:
            metrics.append(
                {"anchor": m["anchor"], "name": m["name"], "withheld": True, "series": m["series"]}
            )
    commentary = [
        c
        for c, m in zip(snapshot["commentary"], snapshot["metrics"], strict=False)
        if m["slug"] in shown
    ]
    return {**snapshot, "metrics": metrics, "agenda": agenda, "commentary": commentary}


def render_html(
    snapshot: dict[str, Any],
    *,
    reader: User | None = None,
    for_pdf: bool = False,
    links: dict[str, str] | None = None,
) -> str:
    data = _readable(snapshot, reader)
    metrics = []
    for m in data["metrics"]:
        chart = m.get("chart")
        if chart:
            image = (
                "data:image/png;base64,"
                + base64.b64encode(metric_spc.chart_png(chart["spec"])).decode()
                if for_pdf
                else "data:image/svg+xml;base64," + base64.b64encode(chart["svg"].encode()).decode()
            )
            m = {**m, "image": image}
        metrics.append(m)
    footer = f"{data['team']['name']} · {data['meeting']['on']} · " + (
        "DRAFT" if data.get("draft") else f"pack {data['number']}"
    )
    return render_to_string(
        "meetings/pack.html",
        {
            "pack": {**data, "metrics": metrics},
            "for_pdf": for_pdf,
            "links": links or {},
            "footer_css": mark_safe(css_string(footer)),  # noqa: S308 - every character escaped
        },
    )


def css_string(text: str) -> str:
    """Text for inside a CSS string: letters, digits and spaces kept, the rest as escapes."""
    return "".join(
        ch if (ch.isalnum() and ch.isascii()) or ch == " " else f"\\{ord(ch):x} " for ch in text
    )


def render_pdf(snapshot: dict[str, Any], *, reader: User | None = None) -> bytes:
    html_class = pdf.html_class()
    return html_class(string=render_html(snapshot, reader=reader, for_pdf=True)).write_pdf()


# An issued pack never changes, so its PDF (seconds of layout) is kept per process, one per
# pack and set of metrics withheld from the reader.
_pdfs: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
_PDFS_KEPT = 8


def clear() -> None:
    _pdfs.clear()


def issued_pdf(issued: Pack, *, reader: User | None = None) -> bytes:
    readable = _readable(issued.snapshot, reader)
    key = (
        issued.pk,
        issued.digest,
        tuple(m["anchor"] for m in readable["metrics"] if m.get("withheld")),
    )
    body = _pdfs.get(key)
    if body is None:
        body = render_pdf(issued.snapshot, reader=reader)
        _pdfs[key] = body
        while len(_pdfs) > _PDFS_KEPT:
            _pdfs.popitem(last=False)
    return body


def filename(snapshot: dict[str, Any]) -> str:
    number = f"-{snapshot['number']}" if snapshot.get("number") else "-draft"
    return f"pack-{snapshot['team']['slug']}-{snapshot['meeting']['on']}{number}"[:100] or slugify(
        "pack"
    )
