"""Plain-data views of A3s and PDSA cycles, shared by the pages, their JSON twins and the print.

Numbers drawn from a metric (charts, a cycle's verdict) are shown only to people who may see
that metric's numbers; anyone else who may read the A3 is told what is withheld and why.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from django.urls import reverse
from django.utils import timezone

from civicloop.improvement import charts
from civicloop.improvement.models import (
    A3,
    CountermeasureStatus,
    PdsaCycle,
    State,
    VoiceSection,
)
from civicloop.improvement.sections import SECTIONS
from civicloop.improvement.services import NEXT_STATES, missing_for, series_label, verdicts_for
from civicloop.okrs.api import sees_metric_values

if TYPE_CHECKING:
    from civicloop.accounts.models import User

PRIVATE = {"drawn"}  # keys only templates use (the drawn charts), left out of JSON
WITHHELD = "withheld: you may not see this metric's numbers"


def _person(user: Any) -> str | None:
    return user.full_name if user is not None else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _day_text(value: date | None) -> str:
    return f"{value:%d %b %Y}" if value else "—"


def a3_row(a3: A3, today: date) -> dict[str, Any]:
    """A line per A3 for lists and dashboards."""
    return {
        "id": a3.pk,
        "title": a3.title,
        "url": a3.get_absolute_url(),
        "team": a3.team.name,
        "team_slug": a3.team.slug,
        "owner": _person(a3.owner),
        "state": a3.state,
        "state_text": a3.state_text,
        "started_on": _day(a3.started_on),
        "review_on": _day(a3.review_on),
        "review_due": bool(a3.review_on and a3.review_on <= today and not a3.is_closed),
        "updated_at": a3.updated_at.isoformat(),
        "shared": a3.is_open or a3.shared_with.exists(),
    }


def a3_list(queryset: Any, today: date) -> list[dict[str, Any]]:
    rows = queryset.select_related("team", "owner").prefetch_related("shared_with")
    return [a3_row(a3, today) for a3 in rows]


def cycle_data(
    cycle: PdsaCycle, user: User, *, live: bool = True, for_print: bool = False
) -> dict[str, Any]:
    """A cycle's four steps; the Study verdict as kept when studied, and (for a started cycle)
    the verdict from the latest data, when the person may see the metric's numbers."""
    sees = sees_metric_values(cycle.metric, user)
    named = cycle.metric.can_view(user)
    verdict = dict(cycle.verdict) if sees else {}
    if verdict.get("as_of"):
        verdict["as_of_text"] = _day_text(date.fromisoformat(verdict["as_of"]))
    current = None
    drawn = None
    if sees and live and cycle.started_on is not None:
        # The chart shows the data the team studied (the verdict's date); the sentences under
        # "with the latest data" what the chart says now.
        studied_on = verdict.get("as_of") if verdict else None
        definition, (result, kept) = verdicts_for(
            cycle,
            _live_until(cycle),
            date.fromisoformat(studied_on) if studied_on else None,
        )
        shown = kept if studied_on else result
        if result is not None:
            current = result.as_data()
            # Shown apart only when the data now says something else than at the study.
            current["same_as_studied"] = bool(verdict) and current["signal"] == verdict.get(
                "signal"
            )
        if shown is not None:
            # On paper, the pilot's chart alone, wide enough to read; its sentence names the rest.
            drawn = charts.study_chart(
                cycle.metric,
                definition,
                shown,
                change=f"PDSA {cycle.number} went live",
                with_rest=not for_print,
                height=150 if for_print else 180,
            )
    return {
        "id": cycle.pk,
        "number": cycle.number,
        "url": cycle.get_absolute_url(),
        "stage": cycle.stage,
        "countermeasure": cycle.countermeasure.title,
        "countermeasure_id": cycle.countermeasure_id,
        "previous": cycle.previous.number if cycle.previous else None,
        "next": _next_number(cycle),
        "plan": {
            "change": cycle.change,
            "question": cycle.question,
            "who": cycle.who,
            "where": cycle.where,
            "metric": cycle.metric.name if named else "a metric you may not see",
            "metric_slug": cycle.metric.slug if named else None,
            "metric_url": cycle.metric.get_absolute_url() if named else None,
            "scope": cycle.scope_label,
            "breakdown": cycle.breakdown,
            "value": cycle.value,
            "prediction": cycle.prediction,
            "predicted_direction": cycle.predicted_direction,
            "predicted_direction_text": cycle.get_predicted_direction_display(),
            "predicted_value": cycle.predicted_value if sees else None,
            "data_to_collect": cycle.data_to_collect,
            "planned_start": _day(cycle.planned_start),
            "planned_start_text": _day_text(cycle.planned_start),
        },
        "do": {
            "started_on": _day(cycle.started_on),
            "started_text": _day_text(cycle.started_on),
            "ended_on": _day(cycle.ended_on),
            "ended_text": _day_text(cycle.ended_on),
            "what_happened": cycle.what_happened,
        },
        "study": {
            "studied_at": cycle.studied_at.isoformat() if cycle.studied_at else None,
            "studied_text": f"{timezone.localtime(cycle.studied_at):%d %b %Y}"
            if cycle.studied_at
            else None,
            "notes": cycle.study_notes,
            "verdict": verdict or None,
            "withheld": None if sees else f"The verdict is {WITHHELD}.",
            "current": current,
        },
        "act": {
            "decision": cycle.decision,
            "decision_text": cycle.get_decision_display() if cycle.decision else None,
            "notes": cycle.act_notes,
            "decided_on": _day(cycle.decided_on),
            "decided_text": _day_text(cycle.decided_on) if cycle.decided_on else None,
            "rebase_pending": cycle.rebase_pending,
            "rebased": cycle.rebase_version is not None,
            "rebase_version": cycle.rebase_version.number if cycle.rebase_version else None,
        },
        "drawn": drawn,
    }


def _live_until(cycle: PdsaCycle) -> date | None:
    """Read "what the data says now" up to the day before the next change on the same metric
    in this A3, so a later cycle's effect is not counted as this one's."""
    later = (
        PdsaCycle.objects.filter(
            countermeasure__a3=cycle.countermeasure.a3_id,
            metric=cycle.metric_id,
            started_on__gt=cycle.started_on,
        )
        .order_by("started_on")
        .values_list("started_on", flat=True)
        .first()
    )
    return later - timedelta(days=1) if later else None


def _next_number(cycle: PdsaCycle) -> int | None:
    following = PdsaCycle.objects.filter(previous=cycle).values_list("number", flat=True).first()
    return following


def a3_detail_data(
    a3: A3, user: User, *, live: bool = True, for_print: bool = False
) -> dict[str, Any]:
    today = timezone.localdate()
    links = list(a3.metric_links.select_related("metric", "metric__team"))
    current_charts = []
    after_charts = []  # the follow-up: the same charts with the latest data
    for link in links:
        entry: dict[str, Any] = {
            "id": link.pk,
            "metric": link.metric.name,
            "metric_url": link.metric.get_absolute_url(),
            "series": link.series_label,
            "breakdown": link.breakdown,
            "value": link.value,
        }
        if not link.metric.can_view(user):
            entry.update(withheld=f"A chart of a metric you may not see ({WITHHELD}).")
            entry["metric"] = "A metric you may not see"
            entry["metric_url"] = None
        else:
            drawn = charts.metric_chart(
                link.metric,
                user,
                breakdown=link.breakdown,
                value=link.value,
                as_of=a3.current_as_of,
            )
            entry["description"] = drawn.description if drawn else "No data yet."
            entry["drawn"] = drawn
            if a3.current_as_of is not None:
                latest = charts.metric_chart(
                    link.metric, user, breakdown=link.breakdown, value=link.value
                )
                if latest is not None:
                    after_charts.append(
                        {**entry, "description": latest.description, "drawn": latest}
                    )
        current_charts.append(entry)
    voices: dict[str, list[dict[str, Any]]] = {s.value: [] for s in VoiceSection}
    for voice in a3.voices.all():
        voices[voice.section].append(
            {
                "id": voice.pk,
                "kind": voice.kind,
                "kind_text": voice.get_kind_display(),
                "text": voice.text,
                "source": voice.source,
                "on": _day(voice.on),
            }
        )
    goal_metric = a3.goal_metric
    goal: dict[str, Any] = {
        "text": a3.goal,
        "metric": None,
        "target": a3.goal_target,
        "target_text": None if a3.goal_target is None else f"{a3.goal_target:g}",
        "by": _day(a3.goal_by),
        "by_text": _day_text(a3.goal_by) if a3.goal_by else None,
        "key_result": None,
    }
    if goal_metric is not None:
        if goal_metric.can_view(user):
            definition = goal_metric.definition()
            goal["metric"] = {
                "name": goal_metric.name,
                "url": goal_metric.get_absolute_url(),
                "unit": definition.unit,
                "direction": definition.direction.value,
                "series": series_label(a3.goal_breakdown, a3.goal_value),
                "latest": _latest(goal_metric, a3.goal_breakdown, a3.goal_value, user),
            }
        else:
            goal["metric"] = {"name": "A metric you may not see", "url": None, "unit": ""}
            goal["target"] = goal["target_text"] = None
    kr = a3.goal_key_result
    if kr is not None and kr.can_view(user):
        hidden = kr.metric is not None and not sees_metric_values(kr.metric, user)
        progress = None if hidden else kr.progress()
        goal["key_result"] = {
            "title": kr.title,
            "url": kr.get_absolute_url(),
            "quarter": kr.period.label,
            "progress_pct": None if progress is None else round(progress * 100),
        }
    countermeasures = []
    for cm in a3.countermeasures.prefetch_related("cycles"):
        cycles = [cycle_data(c, user, live=live, for_print=for_print) for c in cm.cycles.all()]
        countermeasures.append(
            {
                "id": cm.pk,
                "title": cm.title,
                "description": cm.description,
                "cause": cm.cause,
                "status": cm.status,
                "status_text": CountermeasureStatus(cm.status).label,
                "cycles": cycles,
            }
        )
    actions = [
        {
            "id": action.pk,
            "what": action.what,
            "owner": _person(action.owner),
            "due_on": _day(action.due_on),
            "due_text": _day_text(action.due_on),
            "done_on": _day(action.done_on),
            "done_text": _day_text(action.done_on) if action.done_on else None,
            "overdue": action.is_overdue(today),
            "countermeasure": action.countermeasure.title if action.countermeasure else None,
        }
        for action in a3.actions.select_related("owner", "countermeasure")
    ]
    categories = list(a3.fishbone_categories)
    fishbone = [
        {"category": c, "causes": [x["text"] for x in a3.causes if x["category"] == c]}
        for c in categories
    ]
    next_states = []
    backwards = {State.IN_PROGRESS: State.DRAFT, State.CONFIRMING: State.IN_PROGRESS}
    for state in NEXT_STATES.get(State(a3.state), ()):
        if backwards.get(State(a3.state)) == state:
            continue  # possible (with a reason) from the state form, not a next step
        next_states.append(
            {
                "state": state.value,
                "label": state.label,
                "missing": [text for _, text in missing_for(a3, state.value, "adopted")],
            }
        )
    return {
        "a3": {
            "id": a3.pk,
            "title": a3.title,
            "problem": a3.problem,
            "url": a3.get_absolute_url(),
            "team": a3.team.name,
            "team_slug": a3.team.slug,
            "team_url": a3.team.get_absolute_url(),
            "owner": _person(a3.owner),
            "sponsor": _person(a3.sponsor),
            "mentor": _person(a3.mentor),
            "started_on": _day(a3.started_on),
            "started_text": _day_text(a3.started_on),
            "review_on": _day(a3.review_on),
            "review_text": _day_text(a3.review_on),
            "state": a3.state,
            "state_text": a3.state_text,
            "outcome": a3.outcome,
            "closed_on": _day(a3.closed_on),
            "template": a3.template.name if a3.template else None,
            "is_open": a3.is_open,
            "shared_with": [t.name for t in a3.shared_with.all()],
            "updated_at": a3.updated_at.isoformat(),
        },
        "sections": [
            {"key": s.key, "title": s.title, "question": a3.question(s.key)} for s in SECTIONS
        ],
        "section_map": {
            s.key: {"key": s.key, "title": s.title, "question": a3.question(s.key)}
            for s in SECTIONS
        },
        "background": a3.background,
        "current_condition": {
            "text": a3.current_condition,
            "as_of": _day(a3.current_as_of),
            "as_of_text": f"data up to {a3.current_as_of:%d %b %Y}"
            if a3.current_as_of
            else "the latest data",
            "charts": current_charts,
            "voices": voices[VoiceSection.CURRENT],
        },
        "goal": goal,
        "root_cause": {
            "problem": a3.problem or a3.title,
            "whys": list(a3.whys),
            "fishbone": fishbone,
        },
        "countermeasures": countermeasures,
        "plan": actions,
        "follow_up": {
            "text": a3.follow_up,
            "voices": voices[VoiceSection.FOLLOW_UP],
            "charts": after_charts,
        },
        "next_states": next_states,
        "history": [_event(e, user) for e in a3.events.select_related("who", "metric")[:200]],
        "links": {
            "json": reverse("improvement:a3_detail_json", kwargs={"pk": a3.pk}),
            "print": reverse("improvement:a3_print", kwargs={"pk": a3.pk}),
            "pdf": reverse("improvement:a3_pdf", kwargs={"pk": a3.pk}),
        },
    }


def _latest(metric: Any, breakdown: str, value: str, user: User) -> dict[str, Any] | None:
    """The goal series' latest value, for people who may see the metric's numbers."""
    from civicloop.metrics.services import latest_run

    if not sees_metric_values(metric, user):
        return None
    run = latest_run(metric)
    series = run.series.filter(breakdown=breakdown, value=value).first() if run else None
    if series is None or not series.values:
        return None
    known = [(p, v) for p, v in zip(series.periods, series.values, strict=True) if v is not None]
    if not known:
        return None
    period, number = known[-1]
    decimals = metric.definition().decimals
    return {"period": period, "value": number, "text": f"{number:,.{decimals}f}"}


def _event(event: Any, user: User) -> dict[str, Any]:
    """A history entry; one about a metric the person may not see keeps only what happened."""
    hidden = event.metric is not None and not sees_metric_values(event.metric, user)
    return {
        "at": event.at.isoformat(),
        "at_text": f"{timezone.localtime(event.at):%d %b %Y, %H:%M}",
        "who": _person(event.who) or "civicloop",
        "action": event.action,
        "subject": "about a metric you may not see" if hidden else event.subject,
        "changes": [] if hidden else event.changes,
        "reason": "" if hidden else event.reason,
    }


def strip_private(data: Any) -> Any:
    """The data without the keys only templates use (the drawn charts): for JSON."""
    if isinstance(data, dict):
        return {k: strip_private(v) for k, v in data.items() if k not in PRIVATE}
    if isinstance(data, list):
        return [strip_private(v) for v in data]
    return data
