"""Plain-data views of dashboards, meetings and actions, shared by the pages and their twins."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from civicloop.meetings import attention, services
from civicloop.meetings.models import Action, Meeting, MeetingState

if TYPE_CHECKING:
    from civicloop.accounts.models import User
    from civicloop.organizations.models import Team


def _person(user: Any) -> str | None:
    return user.full_name if user is not None else None


def action_row(a: Action, today: date) -> dict[str, Any]:
    link = None
    if a.metric_id and a.metric:
        link = {"kind": "metric", "title": a.metric.name, "url": a.metric.get_absolute_url()}
    elif a.key_result_id and a.key_result:
        link = {
            "kind": "key result",
            "title": a.key_result.title,
            "url": a.key_result.get_absolute_url(),
        }
    elif a.a3_id and a.a3:
        link = {"kind": "A3", "title": a.a3.title, "url": a.a3.get_absolute_url()}
    return {
        "id": a.pk,
        "text": a.text,
        "owner": _person(a.owner),
        "owner_id": a.owner_id,
        "due_on": a.due_on.isoformat(),
        "due_text": f"{a.due_on:%d %b %Y}",
        "status": a.status,
        "overdue": a.is_overdue(today),
        "stalled": a.is_stalled(today),
        "days_overdue": (today - a.due_on).days if a.is_overdue(today) else 0,
        "raised_at": {
            "on": a.meeting.on.isoformat(),
            "on_text": f"{a.meeting.on:%d %b %Y}",
            "url": a.meeting.get_absolute_url(),
        }
        if a.meeting_id and a.meeting
        else None,
        "link": link,
        "done_on": a.done_on.isoformat() if a.done_on else None,
        "dropped_on": a.dropped_on.isoformat() if a.dropped_on else None,
        "closing_note": a.closing_note,
    }


def note_row(n: Any) -> dict[str, Any]:
    return {
        "kind": n.kind,
        "kind_label": n.get_kind_display(),
        "text": n.text,
        "author": _person(n.author),
    }


def _actions(team: Team) -> Any:
    return (
        Action.objects.filter(team=team)
        .select_related("owner", "meeting", "metric", "key_result", "a3")
        .annotate(last_noted=Max("agenda_items__notes__created_at"))
    )


def meeting_row(m: Meeting, today: date) -> dict[str, Any]:
    return {
        "id": m.pk,
        "url": m.get_absolute_url(),
        "title": m.display_title,
        "on": m.on.isoformat(),
        "on_text": f"{m.on:%a %d %b %Y}",
        "starts_at": f"{m.starts_at:%H:%M}",
        "state": m.state,
        "state_label": "Lapsed: not held" if m.is_lapsed(today) else m.get_state_display(),
        "lapsed": m.is_lapsed(today),
        "follow_up_sent": m.follow_up_sent_at is not None,
        "cancelled_reason": m.cancelled_reason,
    }


def dashboard_data(
    team: Team, user: User, *, breakdown: str = "", value: str = "", today: date | None = None
) -> dict[str, Any]:
    """The team's metrics ranked by what needs attention, with OKRs, open A3s, open actions
    and whether its meetings and actions keep moving."""
    from civicloop.improvement.models import A3, State

    today = today or timezone.localdate()
    metrics = attention.team_metrics(team, user)
    choices = attention.breakdown_choices(metrics)
    if breakdown and not any(c["breakdown"] == breakdown and c["value"] == value for c in choices):
        raise services.MeetingError.one(
            "value",
            f"No metric of {team.name} has the series {breakdown} = {value!r}; choose one of "
            "the values listed.",
        )
    open_list = list(_actions(team).open())
    rhythm = services.rhythm(team, today, open_list)
    upcoming = rhythm["next"]
    commentary = services.commentary_states(upcoming) if upcoming else {}
    found = attention.cards(
        team, user, breakdown=breakdown, value=value, metrics=metrics, commentary=commentary
    )
    cards = [attention.card_data(c) for c in found]
    shown = [c for c in cards if c["has_series"]]
    missing = [c["name"] for c in cards if not c["has_series"]]
    for c in choices:
        c["selected"] = c["breakdown"] == breakdown and c["value"] == value
    okr = okr_summary(team, user, today, {m.pk for m in metrics})
    a3s = [
        a
        for a in A3.objects.filter(team=team)
        .exclude(state=State.CLOSED)
        .select_related("owner")
        .order_by("review_on", "title")
        if a.can_view(user)
    ]
    open_actions = sorted(
        (action_row(a, today) for a in open_list),
        key=lambda r: (not r["overdue"], r["due_on"]),
    )
    counts = {
        "metrics": len(shown),
        "attention": sum(1 for c in shown if c["needs_attention"]),
        "concern": sum(1 for c in shown if c["variation"] == "special_cause_concern"),
        "failing": sum(1 for c in shown if c["assurance"] == "consistent_fail"),
        "stale": sum(1 for c in shown if c["stale"]),
        "commentary_overdue": sum(
            1 for c in shown if any(r["code"] == attention.COMMENTARY for r in c["reasons"])
        ),
        "actions_open": len(open_actions),
        "actions_overdue": sum(1 for a in open_actions if a["overdue"]),
    }
    return {
        "team": {"slug": team.slug, "name": team.name, "url": team.get_absolute_url()},
        "today": today.isoformat(),
        "breakdown": breakdown,
        "value": value,
        "breakdowns": choices,
        "counts": counts,
        "cards": shown,
        "without_series": missing,
        "okrs": okr,
        "a3s": [
            {
                "title": a.title,
                "url": a.get_absolute_url(),
                "state": a.state_text,
                "owner": _person(a.owner),
                "review_on": a.review_on.isoformat() if a.review_on else None,
                "due_for_review": bool(a.review_on and a.review_on <= today),
            }
            for a in a3s
        ],
        "actions": open_actions,
        "rhythm": {
            "cadence": rhythm["cadence"],
            "last_held": rhythm["last_held"].on.isoformat() if rhythm["last_held"] else None,
            "last_held_text": f"{rhythm['last_held'].on:%d %b %Y}" if rhythm["last_held"] else None,
            "days_since_held": rhythm["days_since_held"],
            "warnings": rhythm["warnings"],
            "stalled": len(rhythm["stalled_actions"]),
            "next": meeting_row(rhythm["next"], today) if rhythm["next"] else None,
        },
    }


def okr_summary(team: Team, user: User, today: date, visible_metrics: set[int]) -> dict[str, Any]:
    """The team's objectives with this quarter's progress, for the dashboard: the weighted
    mean of its key results' progress (okrs.api.objective_progress), a key result whose metric
    this person may not see left out. Lighter than the OKR page: no SPC status per row."""
    from civicloop.okrs.api import objective_progress
    from civicloop.okrs.models import KeyResult
    from civicloop.okrs.quarters import Quarter

    quarter = Quarter.containing(today)
    krs = list(
        KeyResult.objects.filter(team=team, year=quarter.year, quarter=quarter.number)
        .select_related("objective", "metric")
        .order_by("objective__title", "pk")
    )
    others = {kr.metric_id for kr in krs if kr.metric_id and kr.metric_id not in visible_metrics}
    if others:
        from civicloop.metrics.models import Metric

        visible_metrics = visible_metrics | set(
            Metric.objects.visible_to(user).filter(pk__in=others).values_list("pk", flat=True)
        )
    objectives: dict[int, dict[str, Any]] = {}
    for kr in krs:
        entry = objectives.setdefault(
            kr.objective_id,
            {"title": kr.objective.title, "url": kr.objective.get_absolute_url(), "rows": []},
        )
        withheld = bool(kr.metric_id and kr.metric_id not in visible_metrics)
        entry["rows"].append(
            {
                "status": {"source": "withheld" if withheld else "data"},
                "outcome": kr.outcome,
                "weight": kr.weight,
                "progress": None if withheld else kr.progress(),
            }
        )
    out = []
    for entry in objectives.values():
        progress = objective_progress(entry["rows"])
        out.append(
            {
                "title": entry["title"],
                "url": entry["url"],
                "progress_pct": None if progress is None else round(progress * 100),
                "key_results": len(entry["rows"]),
            }
        )
    return {
        "quarter": quarter.label,
        "objectives": out,
        "url": reverse("okrs:team_okrs", kwargs={"slug": team.slug}),
    }


def meetings_data(team: Team, user: User, today: date | None = None) -> dict[str, Any]:
    today = today or timezone.localdate()
    meetings = list(team.meetings.order_by("on"))
    upcoming = [m for m in meetings if m.on >= today and m.state == MeetingState.SCHEDULED]
    past = [m for m in meetings if m not in upcoming]
    rhythm = services.rhythm(team, today)
    return {
        "team": {"slug": team.slug, "name": team.name, "url": team.get_absolute_url()},
        "cadence": rhythm["cadence"],
        "warnings": rhythm["warnings"],
        "upcoming": [meeting_row(m, today) for m in upcoming],
        "past": [meeting_row(m, today) for m in reversed(past)],
    }


def actions_data(team: Team, user: User, today: date | None = None) -> dict[str, Any]:
    today = today or timezone.localdate()
    rows = [action_row(a, today) for a in _actions(team)]
    return {
        "team": {"slug": team.slug, "name": team.name, "url": team.get_absolute_url()},
        "open": sorted(
            (r for r in rows if r["status"] == "open"),
            key=lambda r: (not r["overdue"], r["due_on"]),
        ),
        "closed": sorted(
            (r for r in rows if r["status"] != "open"),
            key=lambda r: r["done_on"] or r["dropped_on"] or "",
            reverse=True,
        ),
    }


def meeting_data(meeting: Meeting, user: User, today: date | None = None) -> dict[str, Any]:
    today = today or timezone.localdate()
    items = list(
        meeting.items.select_related(
            "metric__team",
            "metric__dataset",
            "metric__current_version",
            "key_result__metric__team",
            "key_result__metric__dataset",
            "key_result__metric__current_version",
            "a3",
            "action__owner",
            "added_by",
        )
    )
    notes = list(meeting.notes.select_related("author"))
    actions = list(_actions(meeting.team).filter(meeting=meeting))
    commentary = services.commentary_states(meeting)
    hidden = {i.pk for i in items if attention.item_hidden(i, user)}
    return {
        "id": meeting.pk,
        "url": meeting.get_absolute_url(),
        "team": {"slug": meeting.team.slug, "name": meeting.team.name},
        "title": meeting.display_title,
        "on": meeting.on.isoformat(),
        "starts_at": f"{meeting.starts_at:%H:%M}",
        "minutes": meeting.minutes,
        "location": meeting.location,
        "state": meeting.state,
        "lapsed": meeting.is_lapsed(today),
        "agenda_drafted_at": meeting.agenda_drafted_at.isoformat()
        if meeting.agenda_drafted_at
        else None,
        "follow_up_sent_at": meeting.follow_up_sent_at.isoformat()
        if meeting.follow_up_sent_at
        else None,
        "attendees": [p.full_name for p in meeting.attendees.all()],
        "items": [
            {
                "id": i.pk,
                "position": n + 1,
                "kind": i.kind,
                "kind_label": i.get_kind_display(),
                "source": i.source,
                "source_label": i.get_source_display(),
                "title": i.title,
                "reason": attention.WITHHELD if i.pk in hidden else i.reason,
                "metric": i.metric.slug if i.metric else None,
                "metric_url": i.metric.get_absolute_url() if i.metric else None,
                "action": action_row(i.action, today) if i.action else None,
                "a3_url": i.a3.get_absolute_url() if i.a3 else None,
                "key_result_url": i.key_result.get_absolute_url() if i.key_result else None,
                "commentary": commentary.get(i.metric_id) if i.metric_id else None,
                "added_by": _person(i.added_by),
                "notes": [note_row(n_) for n_ in notes if n_.item_id == i.pk],
                "actions": [action_row(a, today) for a in actions if a.item_id == i.pk],
            }
            for n, i in enumerate(items)
        ],
        "general_notes": [note_row(n_) for n_ in notes if n_.item_id is None],
        "actions": [action_row(a, today) for a in actions],
        "packs": [
            {
                "number": p.number,
                "url": p.get_absolute_url(),
                "pdf_url": reverse("meetings:pack_pdf", kwargs={"pk": p.pk}),
                "issued_at": p.issued_at.isoformat(),
                "issued_by": _person(p.issued_by),
                "as_of": p.as_of.isoformat(),
                "as_of_text": f"{p.as_of:%d %b %Y}",
                "digest": p.digest,
            }
            for p in meeting.packs.select_related("issued_by")
        ],
    }
