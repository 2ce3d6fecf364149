"""The rules of A3 projects and PDSA cycles: every change goes through here.

Each function checks permission first (NotAllowed), then the input (A3Error naming each field
and the fix), then saves in one transaction with an entry in the A3's history. Nothing is
half-saved when a check fails.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from civicloop.improvement import study as study_rules
from civicloop.improvement.models import (
    A3,
    A3Event,
    A3Metric,
    A3Template,
    Countermeasure,
    CountermeasureStatus,
    CustomerVoice,
    Decision,
    Outcome,
    PdsaCycle,
    PlanAction,
    PredictedDirection,
    State,
    VoiceKind,
    VoiceSection,
)
from civicloop.improvement.sections import (
    BY_KEY,
    MAX_CATEGORIES,
    MAX_WHYS,
    SECTION_KEYS,
    default_questions,
)
from civicloop.metrics.definition import Aggregate, CalculationKind, Rebase
from civicloop.metrics.models import Annotation, Metric, Series, SeriesRun
from civicloop.metrics.services import latest_run
from civicloop.organizations.models import Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User
    from civicloop.okrs.models import KeyResult

TEXT_MAX = 20_000
log = logging.getLogger(__name__)


class A3Error(Exception):
    """Bad input or a refused step: each problem is (field name or "", message)."""

    def __init__(self, problems: Sequence[tuple[str, str]] | str, field_name: str = "") -> None:
        items = [(field_name, problems)] if isinstance(problems, str) else list(problems)
        super().__init__(items[0][1])
        self.problems = items
        self.message = items[0][1]


class NotAllowed(A3Error):
    """The person may see this but not change it (a 403)."""


@dataclass
class Problems:
    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        self.items.append((name, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise A3Error(self.items)


# --- history --------------------------------------------------------------------------------


def _show(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "; ".join(_show(v) for v in value) or "—"
    if isinstance(value, dict):
        return ": ".join(_show(v) for v in value.values())
    if hasattr(value, "full_name"):
        return str(value.full_name)
    return str(value)


FIELD_WORDS = {
    "title": "title",
    "problem": "problem",
    "owner": "owner",
    "sponsor": "sponsor",
    "mentor": "mentor",
    "started_on": "started",
    "review_on": "next review",
    "current_as_of": "data as of",
    "goal_metric": "goal measure",
    "goal_breakdown": "goal measure's breakdown",
    "goal_value": "goal measure's breakdown value",
    "goal_target": "goal target",
    "goal_by": "goal date",
    "goal_key_result": "goal key result",
    "is_open": "open to everyone signed in",
    "shared_with": "shared with",
    "whys": "5 whys",
    "causes": "fishbone causes",
    "state": "state",
    **{s.key: s.title.lower() for s in BY_KEY.values()},
}


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, str]]:
    out = []
    for name, value in after.items():
        old, new = _show(before.get(name)), _show(value)
        if old != new:
            out.append({"field": FIELD_WORDS.get(name, name), "before": old, "after": new})
    return out


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def record(
    a3: A3,
    who: User | None,
    action: str,
    subject: str = "",
    *,
    changes: list[dict[str, str]] | None = None,
    reason: str = "",
    at: datetime | None = None,
    metric: Metric | None = None,
) -> A3Event:
    a3.updated_at = at or timezone.now()
    A3.objects.filter(pk=a3.pk).update(updated_at=a3.updated_at)
    return A3Event.objects.create(
        a3=a3,
        at=at or timezone.now(),
        who=who,
        action=action,
        subject=_cut(subject or a3.title, 300),
        changes=changes or [],
        reason=reason,
        metric=metric,
    )


# --- permission -----------------------------------------------------------------------------


def _may_edit(user: User, a3: A3) -> None:
    if not a3.can_change(user):
        raise NotAllowed(
            f"Only the leads and members of {a3.team.name} may change this A3; you may read it."
        )
    if a3.is_closed:
        raise A3Error(
            f"This A3 was closed on {a3.closed_on:%d %b %Y} ({a3.state_text.lower()}): it is "
            "a record now, and nothing on it changes. Start a new A3 to carry the work on."
            if a3.closed_on
            else "This A3 is closed: it is a record now, and nothing on it changes."
        )


def _text(data: Mapping[str, Any], name: str, problems: Problems, *, limit: int = TEXT_MAX) -> str:
    value = str(data.get(name) or "").strip()
    if len(value) > limit:
        problems.add(name, f"This has {len(value):,} characters; keep it under {limit:,}.")
    return value


def _editor_on(team: Team, person: User | None, name: str, problems: Problems) -> None:
    """The owner answers for the A3, so must be able to edit it: a lead or member."""
    if person is None or person.is_superuser:
        return
    role = team.role_of(person)
    if role is None or not role.can_edit:
        what = f"a {role.label.lower()}" if role else "not"
        problems.add(
            name,
            f"{person.full_name} is {what} on {team.name}, so could not edit the A3 they own; "
            "choose a lead or member (or change their role on the team page).",
        )


def _person_on(team: Team, person: User | None, name: str, problems: Problems) -> None:
    if person is not None and team.role_of(person) is None and not person.is_superuser:
        problems.add(
            name,
            f"{person.full_name} is not on {team.name}; add them to the team first, or choose "
            "someone who is.",
        )


# --- templates ------------------------------------------------------------------------------


def templates_for(user: User, team: Team) -> list[A3Template]:
    """The templates a team's A3 may start from: its own, then other teams' shared ones."""
    own = list(A3Template.objects.filter(team=team).select_related("team"))
    shared = list(
        A3Template.objects.filter(is_shared=True).exclude(team=team).select_related("team")
    )
    return own + [t for t in shared if t.can_use(user)]


def save_template(
    user: User,
    team: Team,
    data: Mapping[str, Any],
    template: A3Template | None = None,
) -> A3Template:
    if not team.can_edit(user):
        raise NotAllowed(f"Only the leads and members of {team.name} may write its templates.")
    problems = Problems()
    name = _text(data, "name", problems, limit=120)
    if not name:
        problems.add("name", "Name the template, e.g. “Service request A3”.")
    clash = A3Template.objects.filter(team=team, name__iexact=name)
    if template is not None:
        clash = clash.exclude(pk=template.pk)
    if name and clash.exists():
        problems.add("name", f"{team.name} already has a template called “{name}”; pick another.")
    questions = {}
    for key in SECTION_KEYS:
        text = _text(data, f"question_{key}", problems, limit=500)
        questions[key] = text or default_questions()[key]
    raw = data.get("fishbone_categories") or ""
    categories = [c.strip() for c in (raw.splitlines() if isinstance(raw, str) else raw)]
    categories = [c for c in categories if c]
    if not categories:
        problems.add(
            "fishbone_categories",
            "Give at least two fishbone categories, one per line (e.g. People, Methods).",
        )
    elif len(categories) < 2 or len(categories) > MAX_CATEGORIES:
        problems.add(
            "fishbone_categories",
            f"Give between 2 and {MAX_CATEGORIES} categories, one per line; there are "
            f"{len(categories)}.",
        )
    elif len({c.lower() for c in categories}) != len(categories):
        lowered = [c.lower() for c in categories]
        twice = next(c for i, c in enumerate(categories) if c.lower() in lowered[:i])
        problems.add(
            "fishbone_categories", f"Each category may appear once: “{twice}” is there twice."
        )
    problems.raise_if_any()
    template = template or A3Template(team=team, created_by=user)
    template.name = name
    template.questions = questions
    template.fishbone_categories = categories
    template.is_shared = bool(data.get("is_shared"))
    template.save()
    return template


# --- A3s ------------------------------------------------------------------------------------


def create_a3(
    user: User,
    team: Team,
    data: Mapping[str, Any],
    *,
    at: datetime | None = None,
) -> A3:
    if not team.can_edit(user):
        raise NotAllowed(f"Only the leads and members of {team.name} may start its A3s.")
    problems = Problems()
    title = _text(data, "title", problems, limit=200)
    if not title:
        problems.add(
            "title", "Give the A3 a title that names the problem, e.g. “Dumping waits in D3”."
        )
    owner = data.get("owner") or user
    _editor_on(team, owner, "owner", problems)
    template = data.get("template")
    if template is not None and not template.can_use(user):
        problems.add("template", "That template is not shared with your team; pick another.")
    problems.raise_if_any()
    with transaction.atomic():
        a3 = A3.objects.create(
            team=team,
            title=title,
            problem=str(data.get("problem") or "").strip()[:200],
            owner=owner,
            sponsor=data.get("sponsor"),
            mentor=data.get("mentor"),
            started_on=data.get("started_on") or timezone.localdate(),
            template=template,
            questions=dict(template.questions) if template else default_questions(),
            fishbone_categories=list(template.fishbone_categories)
            if template
            else list(A3._meta.get_field("fishbone_categories").get_default()),
            created_at=at or timezone.now(),
            updated_at=at or timezone.now(),
        )
        record(
            a3,
            user,
            "Started",
            reason=f"From the template “{template.name}”." if template else "",
            at=at,
        )
    return a3


HEADER_FIELDS = (
    "title",
    "problem",
    "owner",
    "sponsor",
    "mentor",
    "started_on",
    "review_on",
    "is_open",
)
TEXT_FIELDS = ("background", "current_condition", "goal", "follow_up")
GOAL_FIELDS = (
    "goal_metric",
    "goal_breakdown",
    "goal_value",
    "goal_target",
    "goal_by",
    "goal_key_result",
)


def share_a3(
    user: User, a3: A3, *, is_open: bool, shared_with: Sequence[Team]
) -> list[dict[str, str]]:
    """Who may read the A3: open to everyone signed in, or shared with teams. A closed A3
    can still be shared, so that other teams learn from it."""
    if not a3.can_change(user):
        raise NotAllowed(f"Only the leads and members of {a3.team.name} may share this A3.")
    teams = [t for t in shared_with if t.pk != a3.team_id]
    before = {
        "is_open": a3.is_open,
        "shared_with": sorted(t.name for t in a3.shared_with.all()),
    }
    after = {"is_open": is_open, "shared_with": sorted(t.name for t in teams)}
    with transaction.atomic():
        a3.is_open = is_open
        a3.save(update_fields=["is_open"])
        a3.shared_with.set(teams)
        changes = _diff(before, after)
        if changes:
            record(a3, user, "Sharing", changes=changes)
    return changes


def update_a3(
    user: User,
    a3: A3,
    data: Mapping[str, Any],
    *,
    reason: str = "",
    at: datetime | None = None,
) -> list[dict[str, str]]:
    """Change what `data` names (header fields, section texts, the goal's measure, sharing);
    what it does not name is kept. Returns the changes recorded."""
    _may_edit(user, a3)
    problems = Problems()
    after: dict[str, Any] = {}
    for name in HEADER_FIELDS + TEXT_FIELDS + ("current_as_of",) + GOAL_FIELDS:
        if name in data:
            after[name] = data[name]
    for name in ("title", "problem", *TEXT_FIELDS):
        if name in after:
            after[name] = _text(
                after,
                name,
                problems,
                limit=200 if name != "problem" and name not in TEXT_FIELDS else TEXT_MAX,
            )
    if "title" in after and not after["title"]:
        problems.add("title", "An A3 needs a title.")
    if "problem" in after and len(after["problem"]) > 200:
        problems.add("problem", "Say the problem in a line: under 200 characters.")
    if "owner" in after:
        if after["owner"] is None:
            problems.add("owner", "An A3 needs an owner: the person who answers for it.")
        _editor_on(a3.team, after["owner"], "owner", problems)
    _check_goal(user, a3, after, problems)
    started = after.get("started_on", a3.started_on)
    for name, words in (("review_on", "The next review"), ("goal_by", "The goal's date")):
        day = after.get(name)
        if day is not None and started is not None and day < started:
            problems.add(
                name,
                f"{words} ({day:%d %b %Y}) is before the A3 started ({started:%d %b %Y}); "
                "give a later date.",
            )
    shared = data.get("shared_with")
    if shared is not None:
        shared = [t for t in shared if t.pk != a3.team_id]
    problems.raise_if_any()
    before = {name: getattr(a3, name) for name in after}
    if shared is not None:
        before["shared_with"] = sorted(t.name for t in a3.shared_with.all())
    with transaction.atomic():
        for name, value in after.items():
            setattr(a3, name, value)
        # Only what changed: another person's edit of another section is kept.
        a3.save(update_fields=[*after, "updated_at"] if after else ["updated_at"])
        if shared is not None:
            a3.shared_with.set(shared)
            after["shared_with"] = sorted(t.name for t in shared)
        changes = _diff(before, after)
        # Changes to the goal's measure are an entry of their own, tied to the metric, so
        # a reader who may not see it is not told its name or target in the history.
        goal_words = {FIELD_WORDS[name] for name in GOAL_FIELDS}
        plain = [c for c in changes if c["field"] not in goal_words]
        measure = [c for c in changes if c["field"] in goal_words]
        if plain:
            record(a3, user, "Changed", changes=plain, reason=reason, at=at)
        if measure:
            metric = a3.goal_metric or before.get("goal_metric")
            record(a3, user, "Goal measure", changes=measure, reason=reason, at=at, metric=metric)
    return changes


def _check_goal(user: User, a3: A3, after: dict[str, Any], problems: Problems) -> None:
    metric: Metric | None = after.get("goal_metric", a3.goal_metric)
    if "goal_metric" in after and metric is not None and not metric.can_view(user):
        problems.add("goal_metric", "There is no such metric you may see.")
    target = after.get("goal_target", a3.goal_target)
    if metric is None and "goal_target" in after and target is not None:
        problems.add("goal_target", "A target needs its measure: choose the goal's metric too.")
    kr: KeyResult | None = after.get("goal_key_result", a3.goal_key_result)
    if "goal_key_result" in after and kr is not None and not kr.can_view(user):
        problems.add("goal_key_result", "There is no such key result you may see.")


def set_root_causes(
    user: User,
    a3: A3,
    *,
    problem: str | None = None,
    whys: Sequence[str] = (),
    causes: Sequence[tuple[str, str]] = (),
    reason: str = "",
    at: datetime | None = None,
) -> list[dict[str, str]]:
    """The 5 whys (in order, blanks dropped) and the fishbone's causes, (category, cause)."""
    _may_edit(user, a3)
    problems = Problems()
    kept_whys = [w.strip() for w in whys if w and w.strip()]
    if len(kept_whys) > MAX_WHYS:
        problems.add("whys", f"Keep to {MAX_WHYS} whys; the root cause is usually by the fifth.")
    for index, why in enumerate(kept_whys, 1):
        if len(why) > 500:
            problems.add(
                f"why_{index}", f"Why {index} is long: keep each why under 500 characters."
            )
    categories = list(a3.fishbone_categories)
    kept_causes = []
    for category, text in causes:
        text = (text or "").strip()
        if not text:
            continue
        if category not in categories:
            problems.add(
                "causes",
                f"“{category}” is not one of this A3's fishbone categories "
                f"({', '.join(categories)}).",
            )
            continue
        if len(text) > 300:
            problems.add(
                f"causes_{category}",
                f"A cause under {category} is long: keep it under 300 characters.",
            )
        kept_causes.append({"category": category, "text": text})
    if problem is not None and len(problem.strip()) > 200:
        problems.add("problem", "Say the problem in a line: under 200 characters.")
    problems.raise_if_any()
    before: dict[str, Any] = {
        "whys": list(a3.whys),
        "causes": [f"{c['category']}: {c['text']}" for c in a3.causes],
    }
    after: dict[str, Any] = {
        "whys": kept_whys,
        "causes": [f"{c['category']}: {c['text']}" for c in kept_causes],
    }
    if problem is not None:
        before["problem"], after["problem"] = a3.problem, problem.strip()
    with transaction.atomic():
        a3.whys = kept_whys
        a3.causes = kept_causes
        if problem is not None:
            a3.problem = problem.strip()
        a3.save(update_fields=["whys", "causes", "problem"])
        changes = _diff(before, after)
        if changes:
            record(a3, user, "Root causes", changes=changes, reason=reason, at=at)
    return changes


def link_metric(
    user: User,
    a3: A3,
    metric: Metric,
    breakdown: str = "",
    value: str = "",
    *,
    at: datetime | None = None,
) -> A3Metric:
    _may_edit(user, a3)
    if not metric.can_view(user):
        raise A3Error("There is no such metric you may see.", "metric")
    run = latest_run(metric)
    if breakdown and (
        run is None or not run.series.filter(breakdown=breakdown, value=value).exists()
    ):
        choices = (
            sorted(run.series.exclude(breakdown="").values_list("value", flat=True)) if run else []
        )
        raise A3Error(
            f"{metric.name} has no series {breakdown} = {value!r}"
            + (f"; its values are {', '.join(choices)}." if choices else "."),
            "value",
        )
    if A3Metric.objects.filter(a3=a3, metric=metric, breakdown=breakdown, value=value).exists():
        raise A3Error("That chart is on the A3 already.", "metric")
    with transaction.atomic():
        link = A3Metric.objects.create(
            a3=a3,
            metric=metric,
            breakdown=breakdown,
            value=value,
            position=a3.metric_links.count(),
        )
        record(
            a3, user, "Chart added", f"{metric.name} ({link.series_label})", at=at, metric=metric
        )
    return link


def unlink_metric(user: User, a3: A3, link: A3Metric) -> None:
    _may_edit(user, a3)
    with transaction.atomic():
        link.delete()
        record(
            a3,
            user,
            "Chart removed",
            f"{link.metric.name} ({link.series_label})",
            metric=link.metric,
        )


def add_voice(
    user: User, a3: A3, data: Mapping[str, Any], *, at: datetime | None = None
) -> CustomerVoice:
    _may_edit(user, a3)
    problems = Problems()
    text = _text(data, "text", problems, limit=2000)
    if not text:
        problems.add("text", "Write what the resident said, or the survey result, in their words.")
    section = str(data.get("section") or VoiceSection.CURRENT)
    if section not in VoiceSection.values:
        problems.add("section", "Attach it to the current condition or to the follow-up.")
    kind = str(data.get("kind") or VoiceKind.QUOTE)
    if kind not in VoiceKind.values:
        problems.add("kind", "Say whether it is a quote, a survey result or a complaint.")
    source = _text(data, "source", problems, limit=200)
    problems.raise_if_any()
    with transaction.atomic():
        voice = CustomerVoice.objects.create(
            a3=a3,
            section=section,
            kind=kind,
            text=text,
            source=source,
            on=data.get("on"),
            added_by=user,
        )
        record(
            a3,
            user,
            "Customer's voice added",
            f"{voice.get_kind_display()}: {_cut(text, 80)}",
            at=at,
        )
    return voice


def remove_voice(user: User, a3: A3, voice: CustomerVoice) -> None:
    _may_edit(user, a3)
    with transaction.atomic():
        voice.delete()
        record(a3, user, "Customer's voice removed", _cut(voice.text, 80))


def save_countermeasure(
    user: User,
    a3: A3,
    data: Mapping[str, Any],
    countermeasure: Countermeasure | None = None,
    *,
    at: datetime | None = None,
) -> Countermeasure:
    _may_edit(user, a3)
    problems = Problems()
    title = _text(data, "title", problems, limit=200)
    if not title:
        problems.add("title", "Say the change in a line, e.g. “A dedicated dumping crew”.")
    description = _text(data, "description", problems)
    cause = _text(data, "cause", problems, limit=300)
    problems.raise_if_any()
    with transaction.atomic():
        if countermeasure is None:
            countermeasure = Countermeasure.objects.create(
                a3=a3,
                title=title,
                description=description,
                cause=cause,
                position=a3.countermeasures.count(),
            )
            record(a3, user, "Countermeasure added", title, at=at)
        else:
            before = {
                "title": countermeasure.title,
                "description": countermeasure.description,
                "cause": countermeasure.cause,
            }
            after = {"title": title, "description": description, "cause": cause}
            for name, value in after.items():
                setattr(countermeasure, name, value)
            countermeasure.save()
            changes = _diff(before, after)
            if changes:
                record(a3, user, "Countermeasure changed", title, changes=changes, at=at)
    return countermeasure


def save_action(
    user: User,
    a3: A3,
    data: Mapping[str, Any],
    action: PlanAction | None = None,
    *,
    at: datetime | None = None,
) -> PlanAction:
    _may_edit(user, a3)
    problems = Problems()
    what = _text(data, "what", problems, limit=300)
    if not what:
        problems.add("what", "Say what will be done, e.g. “Brief the District 3 crews”.")
    owner = data.get("owner")
    if owner is None:
        problems.add("owner", "Every action needs an owner: the person who will do it.")
    else:
        _person_on(a3.team, owner, "owner", problems)
    due_on = data.get("due_on")
    if due_on is None:
        problems.add("due_on", "Every action needs a due date (YYYY-MM-DD).")
    countermeasure = data.get("countermeasure")
    if countermeasure is not None and countermeasure.a3_id != a3.pk:
        problems.add("countermeasure", "Choose one of this A3's countermeasures.")
    problems.raise_if_any()
    assert owner is not None and due_on is not None
    with transaction.atomic():
        if action is None:
            action = PlanAction.objects.create(
                a3=a3, what=what, owner=owner, due_on=due_on, countermeasure=countermeasure
            )
            record(
                a3, user, "Action added", f"{what} — {owner.full_name}, by {due_on:%d %b %Y}", at=at
            )
        else:
            before = {"what": action.what, "owner": action.owner, "due_on": action.due_on}
            action.what, action.owner, action.due_on = what, owner, due_on
            action.countermeasure = countermeasure
            action.save()
            changes = _diff(before, {"what": what, "owner": owner, "due_on": due_on})
            if changes:
                record(a3, user, "Action changed", what, changes=changes, at=at)
    return action


def complete_action(
    user: User, a3: A3, action: PlanAction, done_on: date | None = None, *, undo: bool = False
) -> PlanAction:
    _may_edit(user, a3)
    with transaction.atomic():
        action.done_on = None if undo else (done_on or timezone.localdate())
        action.save(update_fields=["done_on"])
        record(a3, user, "Action reopened" if undo else "Action done", action.what)
    return action


# --- states ---------------------------------------------------------------------------------

NEXT_STATES = {
    State.DRAFT: (State.IN_PROGRESS,),
    State.IN_PROGRESS: (State.CONFIRMING, State.DRAFT),
    State.CONFIRMING: (State.CLOSED, State.IN_PROGRESS),
}


def missing_for(a3: A3, state: str, outcome: str = "") -> list[tuple[str, str]]:
    """What must be filled in before the A3 moves to `state`: (section, what to do)."""
    missing: list[tuple[str, str]] = []

    def need(key: str, what: str) -> None:
        missing.append((key, f"{BY_KEY[key].title}: {what} ({a3.question(key)})"))

    if state == State.CLOSED and outcome == Outcome.ABANDONED:
        # Abandoning is possible at any stage: only what was learned is needed.
        if not a3.follow_up.strip():
            need("follow_up", "write what was learned, for the next team that tries")
        return missing
    if state in (State.IN_PROGRESS, State.CONFIRMING, State.CLOSED):
        if not a3.background.strip():
            need("background", "write the background")
        if not a3.current_condition.strip() and not a3.metric_links.exists():
            need("current_condition", "describe it, or add a metric's chart")
        if not a3.goal.strip():
            need("goal", "write the target condition")
        elif a3.goal_key_result_id is None and (
            a3.goal_metric_id is None or a3.goal_target is None
        ):
            need("goal", "link it to a key result, or to a metric with a target value")
        if not a3.whys and not a3.causes:
            need("root_cause", "ask the whys or fill in the fishbone")
        if not a3.countermeasures.exists():
            need("countermeasures", "add at least one countermeasure")
        if not a3.actions.exists():
            need("plan", "add at least one action with an owner and a due date")
    started = PdsaCycle.objects.filter(countermeasure__a3=a3, started_on__isnull=False)
    confirming = state in (State.CONFIRMING, State.CLOSED) and outcome != Outcome.ABANDONED
    if confirming and not started.exists():
        need("countermeasures", "start a PDSA cycle, so there is an effect to confirm")
    if state == State.CLOSED:
        if not a3.follow_up.strip():
            need("follow_up", "write what the data showed and what was learned")
        if (
            outcome == Outcome.ADOPTED
            and not a3.countermeasures.filter(status=CountermeasureStatus.ADOPTED).exists()
        ):
            need(
                "countermeasures",
                "adopt a countermeasure (the Act step of a studied PDSA cycle), or close the A3 "
                "as abandoned",
            )
    return missing


def move(
    user: User,
    a3: A3,
    state: str,
    *,
    outcome: str = "",
    reason: str = "",
    at: datetime | None = None,
) -> A3:
    """Move the A3 to its next (or previous) state; refused, with every gap named, while
    sections that state needs are empty. Abandoning is possible from any open state."""
    _may_edit(user, a3)
    if state not in State.values:
        raise A3Error(f"There is no state {state!r}.", "state")
    current = State(a3.state)
    abandoning = state == State.CLOSED and outcome == Outcome.ABANDONED
    allowed = NEXT_STATES.get(current, ())
    if State(state) not in allowed and not abandoning:
        words = ", ".join(State(s).label.lower() for s in allowed) or "nothing"
        raise A3Error(
            f"An A3 that is {current.label.lower()} moves to {words}, not to "
            f"{State(state).label.lower()}.",
            "state",
        )
    if state == State.CLOSED and outcome not in Outcome.values:
        raise A3Error("Say whether the countermeasure was adopted or abandoned.", "outcome")
    reason = (reason or "").strip()
    backwards = (current, State(state)) in (
        (State.IN_PROGRESS, State.DRAFT),
        (State.CONFIRMING, State.IN_PROGRESS),
    )
    if (backwards or abandoning) and not reason:
        raise A3Error("Say why (one sentence is enough): the history keeps it.", "reason")
    missing = [] if backwards else missing_for(a3, state, outcome)
    if missing:
        target = "closed" if state == State.CLOSED else State(state).label.lower()
        raise A3Error([(key, f"Before it can be {target}: {text}") for key, text in missing])
    before = {"state": a3.state_text}
    with transaction.atomic():
        a3.state = state
        a3.outcome = outcome if state == State.CLOSED else ""
        a3.closed_on = (
            (at.date() if at else timezone.localdate()) if state == State.CLOSED else None
        )
        a3.save(update_fields=["state", "outcome", "closed_on"])
        record(
            a3, user, "State", changes=_diff(before, {"state": a3.state_text}), reason=reason, at=at
        )
    return a3


# --- PDSA cycles ----------------------------------------------------------------------------

PLAN_FIELDS = (
    "change",
    "question",
    "who",
    "where",
    "prediction",
    "predicted_direction",
    "predicted_value",
    "data_to_collect",
    "planned_start",
)


def _check_plan(
    user: User, a3: A3, data: Mapping[str, Any], problems: Problems
) -> tuple[Metric | None, str, str]:
    if not str(data.get("change") or "").strip():
        problems.add("change", "Say what change this cycle tries, where and for whom.")
    if not str(data.get("prediction") or "").strip():
        problems.add(
            "prediction",
            "Write the prediction before the cycle starts: what do you expect to happen, and "
            "by how much? It is what the Study step compares the data with.",
        )
    if data.get("predicted_direction") not in PredictedDirection.values:
        problems.add(
            "predicted_direction", "Say which way you predict the measure will go: up or down."
        )
    metric = data.get("metric")
    if metric is None or not metric.can_view(user):
        problems.add("metric", "Choose the metric the cycle is judged on (one you may see).")
        metric = None
    breakdown = str(data.get("breakdown") or "").strip()
    value = str(data.get("value") or "").strip()
    if metric is not None and (breakdown or value):
        run = latest_run(metric)
        series = run.series.filter(breakdown=breakdown, value=value).exists() if run else False
        if not series:
            values = (
                sorted(set(run.series.exclude(breakdown="").values_list("breakdown", "value")))
                if run
                else []
            )
            listed = ", ".join(f"{b} = {v}" for b, v in values[:20]) or "none"
            problems.add(
                "value",
                f"{metric.name} has no series {breakdown or '?'} = {value or '?'}; the pilot "
                f"can be one of: {listed}.",
            )
    for name in ("change", "question", "prediction", "data_to_collect"):
        _text(data, name, problems, limit=5000)
    for name in ("who", "where"):
        _text(data, name, problems, limit=300)
    return metric, breakdown, value


def add_cycle(
    user: User,
    countermeasure: Countermeasure,
    data: Mapping[str, Any],
    *,
    previous: PdsaCycle | None = None,
    at: datetime | None = None,
) -> PdsaCycle:
    a3 = countermeasure.a3
    _may_edit(user, a3)
    problems = Problems()
    metric, breakdown, value = _check_plan(user, a3, data, problems)
    if previous is not None and previous.countermeasure.a3_id != a3.pk:
        problems.add("previous", "A cycle follows on from a cycle of the same A3.")
    if previous is not None and PdsaCycle.objects.filter(previous=previous).exists():
        problems.add("previous", f"Cycle {previous.number} already has a next cycle.")
    problems.raise_if_any()
    assert metric is not None
    # Numbered through the A3 (PDSA 1, 2, 3...), whichever countermeasure each tests.
    last = PdsaCycle.objects.filter(countermeasure__a3=a3).order_by("-number").first()
    number = (last.number if last else 0) + 1
    with transaction.atomic():
        cycle = PdsaCycle.objects.create(
            countermeasure=countermeasure,
            number=number,
            previous=previous,
            metric=metric,
            breakdown=breakdown,
            value=value,
            created_at=at or timezone.now(),
            **{name: _clean(name, data.get(name)) for name in PLAN_FIELDS},
        )
        old = previous.countermeasure if previous is not None else None
        if (
            old is not None
            and old.pk != countermeasure.pk
            and previous is not None
            and previous.decision == Decision.ADAPT
            and old.status == CountermeasureStatus.TESTING
            and not old.cycles.filter(decision="").exists()
        ):
            # Adapted into another countermeasure: the first is set aside.
            old.status = CountermeasureStatus.ABANDONED
            old.save(update_fields=["status"])
            record(
                a3,
                user,
                "Countermeasure set aside",
                old.title,
                reason=f"Adapted into “{countermeasure.title}” (PDSA {number}).",
                at=at,
            )
        record(
            a3,
            user,
            "PDSA cycle planned",
            f"{countermeasure.title}: cycle {number}",
            reason=f"Prediction: {cycle.prediction}",
            at=at,
        )
    return cycle


def _clean(name: str, value: Any) -> Any:
    if name in ("predicted_value", "planned_start"):
        return value
    return str(value or "").strip()


def update_plan(
    user: User, cycle: PdsaCycle, data: Mapping[str, Any], *, reason: str = ""
) -> list[dict[str, str]]:
    """Change a cycle's plan, only before it starts: the prediction is written before the
    change, so that the Study step compares the data with what the team expected."""
    a3 = cycle.a3
    _may_edit(user, a3)
    if cycle.started_on is not None:
        raise A3Error(
            f"Cycle {cycle.number} started on {cycle.started_on:%d %b %Y}: its plan and "
            "prediction are fixed from then on, so the Study step compares the data with what "
            "was expected. Write what you learn in Study, or plan the next cycle.",
            "prediction",
        )
    problems = Problems()
    merged = {
        **{n: getattr(cycle, n) for n in PLAN_FIELDS},
        "metric": cycle.metric,
        "breakdown": cycle.breakdown,
        "value": cycle.value,
        **data,
    }
    metric, breakdown, value = _check_plan(user, a3, merged, problems)
    problems.raise_if_any()
    after = {n: _clean(n, merged.get(n)) for n in PLAN_FIELDS}
    after.update(metric=metric, breakdown=breakdown, value=value)
    before = {n: getattr(cycle, n) for n in after}
    with transaction.atomic():
        for name, item in after.items():
            setattr(cycle, name, item)
        cycle.save()
        changes = _diff(before, after)
        if changes:
            record(
                a3,
                user,
                "PDSA plan changed",
                f"Cycle {cycle.number}",
                changes=changes,
                reason=reason,
            )
    return changes


def start_cycle(
    user: User, cycle: PdsaCycle, started_on: date | None, *, at: datetime | None = None
) -> PdsaCycle:
    """Do: the change goes live. Its date goes on the metric's chart as an event."""
    a3 = cycle.a3
    _may_edit(user, a3)
    if cycle.started_on is not None:
        raise A3Error(
            f"Cycle {cycle.number} started on {cycle.started_on:%d %b %Y} already.", "started_on"
        )
    if started_on is None:
        raise A3Error("Give the date the change went live (YYYY-MM-DD).", "started_on")
    today = at.date() if at else timezone.localdate()
    if started_on > today:
        raise A3Error(
            f"{started_on:%d %b %Y} is in the future: start the cycle on the day the change goes "
            "live (the plan can say when that is meant to be).",
            "started_on",
        )
    title = cycle.countermeasure.title
    scope = cycle.scope_label
    where = f" in {scope}" if cycle.breakdown and scope.lower() not in title.lower() else ""
    text = (
        f"PDSA {cycle.number}: {title}{where}"
        if a3.is_open
        else f"PDSA {cycle.number} went live ({a3.team.name}'s improvement work)"
    )[:200]
    with transaction.atomic():
        cycle.annotation = Annotation.objects.create(
            metric=cycle.metric, on=started_on, text=text, author=user
        )
        cycle.started_on = started_on
        cycle.save()
        countermeasure = cycle.countermeasure
        if countermeasure.status == CountermeasureStatus.PROPOSED:
            countermeasure.status = CountermeasureStatus.TESTING
            countermeasure.save(update_fields=["status"])
        record(
            a3,
            user,
            "PDSA cycle started",
            f"Cycle {cycle.number} live on {started_on:%d %b %Y}",
            reason="Marked on the chart of " + cycle.metric.name + ".",
            at=at,
            metric=cycle.metric,
        )
    return cycle


def record_do(
    user: User,
    cycle: PdsaCycle,
    ended_on: date | None,
    what_happened: str,
    *,
    at: datetime | None = None,
) -> PdsaCycle:
    """Do: the test ran until `ended_on`; what happened, problems and surprises."""
    a3 = cycle.a3
    _may_edit(user, a3)
    problems = Problems()
    if cycle.started_on is None:
        problems.add("ended_on", "Start the cycle first: give the date the change went live.")
    if ended_on is None:
        problems.add("ended_on", "Give the date the test ended (YYYY-MM-DD).")
    elif ended_on > (at.date() if at else timezone.localdate()):
        problems.add(
            "ended_on",
            f"{ended_on:%d %b %Y} is in the future: record the Do step once the test has ended.",
        )
    elif cycle.started_on is not None and ended_on < cycle.started_on:
        problems.add(
            "ended_on",
            f"The test cannot end ({ended_on:%d %b %Y}) before it started "
            f"({cycle.started_on:%d %b %Y}).",
        )
    what_happened = (what_happened or "").strip()
    if not what_happened:
        problems.add(
            "what_happened", "Say what happened: was the change made as planned? Any problems?"
        )
    problems.raise_if_any()
    with transaction.atomic():
        cycle.ended_on = ended_on
        cycle.what_happened = what_happened
        cycle.save()
        record(
            a3, user, "PDSA Do recorded", f"Cycle {cycle.number} ran to {ended_on:%d %b %Y}", at=at
        )
    return cycle


# --- Study ----------------------------------------------------------------------------------


def _additive(definition: Any) -> bool:
    calc = definition.calculation
    return calc.kind is CalculationKind.SIMPLE and calc.measure.aggregate in (
        Aggregate.COUNT,
        Aggregate.SUM,
    )


def cycle_series(
    cycle: PdsaCycle, run: SeriesRun | None = None
) -> tuple[Any, study_rules.SeriesData | None, study_rules.SeriesData | None]:
    """The metric's definition (of the run), the pilot's series (or the total) and, for a
    pilot, the rest's: every other value of the breakdown together."""
    run = run or latest_run(cycle.metric)
    if run is None:
        return cycle.metric.definition(), None, None
    definition = run.metric_version.parsed()
    series = {(s.breakdown, s.value): s for s in run.series.all()}
    total = series.get(("", ""))
    if not cycle.breakdown:
        if total is None:
            return definition, None, None
        return definition, _data("Total", total), None
    pilot = series.get((cycle.breakdown, cycle.value))
    if pilot is None or total is None:
        return definition, None, None
    others = sorted(v for (b, v) in series if b == cycle.breakdown and v != cycle.value)
    word = cycle.breakdown.replace("_", " ")
    named = [series_label(cycle.breakdown, v) for v in others]
    label = (
        f"The rest ({', '.join(named)})" if len(others) <= 8 else f"The rest (every other {word})"
    )
    rest = _rest(run.pk, definition, total, pilot, cycle.breakdown, cycle.value)
    mine = _data(series_label(cycle.breakdown, cycle.value), pilot)
    mine = replace(mine, breakdown=cycle.breakdown, value=cycle.value)
    return (
        definition,
        mine,
        study_rules.SeriesData(
            label, rest.periods, rest.values, rest.numerators, rest.denominators
        ),
    )


def series_label(breakdown: str, value: str) -> str:
    """“District 3” for district = 3 and for district = District 3; “Total” for the total."""
    if not breakdown:
        return "Total"
    word = breakdown.replace("_", " ")
    if value.lower().startswith(word.lower()):
        return value
    return f"{word.capitalize()} {value}"


def _data(label: str, series: Series) -> study_rules.SeriesData:
    return study_rules.SeriesData(
        label,
        [date.fromisoformat(p) for p in series.periods],
        list(series.values),
        list(series.numerators),
        list(series.denominators),
    )


@dataclass(frozen=True)
class _Rest:
    periods: tuple[date, ...]
    values: tuple[float | None, ...]
    numerators: tuple[float | None, ...] = ()
    denominators: tuple[float | None, ...] = ()


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _rest(
    run_pk: int, definition: Any, total: Series, pilot: Series, breakdown: str, value: str
) -> _Rest:
    """Counts and sums: the total less the pilot. Ratios and rates: numerators and
    denominators less the pilot's. Anything else (medians, means, percentiles): computed again
    by the engine over the records outside the pilot."""
    periods = tuple(date.fromisoformat(p) for p in total.periods)
    if _additive(definition):
        return _Rest(
            periods, tuple(_minus(a, b) for a, b in zip(total.values, pilot.values, strict=True))
        )
    calc = definition.calculation
    if calc.kind is not CalculationKind.SIMPLE and total.numerators and pilot.numerators:
        nums = [_minus(a, b) for a, b in zip(total.numerators, pilot.numerators, strict=True)]
        dens = [_minus(a, b) for a, b in zip(total.denominators, pilot.denominators, strict=True)]
        values = [
            None if n is None or not d else n / d * calc.multiplier
            for n, d in zip(nums, dens, strict=True)
        ]
        return _Rest(periods, tuple(values), tuple(nums), tuple(dens))
    stamp = SeriesRun.objects.filter(pk=run_pk).values_list("computed_at", flat=True).first()
    return _computed_rest(run_pk, str(stamp), breakdown, value)


@lru_cache(maxsize=64)
def _computed_rest(run_pk: int, stamp: str, breakdown: str, value: str) -> _Rest:
    """The metric computed over every record whose breakdown is not `value` (a run's data
    never changes, so the answer is kept per run)."""
    from civicloop.metrics import compiler
    from civicloop.metrics.services import default_engine, table_for

    run = SeriesRun.objects.select_related("metric_version", "dataset_version").get(pk=run_pk)
    definition = run.metric_version.parsed().with_changes(breakdowns=())
    version = run.dataset_version
    assert version is not None
    engine = default_engine()
    try:
        table = table_for(engine, version)
        coverage = compiler.Coverage(run.first_day, run.last_day, run.rows, run.complete_through)
        column = table[compiler.column_name(breakdown)].cast("string")
        rest_table = table.filter(column.isnull() | (column != value))
        result = compiler.compute_series(definition, engine, rest_table, coverage)
    finally:
        engine.close()
    points = result.total().points
    return _Rest(
        tuple(p.period for p in points),
        tuple(p.value for p in points),
        tuple(p.numerator for p in points) if points and points[0].numerator is not None else (),
        tuple(p.denominator for p in points)
        if points and points[0].denominator is not None
        else (),
    )


def verdicts_for(
    cycle: PdsaCycle, *as_of: date | None
) -> tuple[Any, list[study_rules.Verdict | None]]:
    """The metric's definition and the verdict on a started cycle at each date (None: all the
    data), from one read of its series."""
    if cycle.started_on is None:
        return None, [None] * len(as_of)
    definition, pilot, rest = cycle_series(cycle)
    if pilot is None:
        return definition, [None] * len(as_of)
    return definition, [
        study_rules.study(
            definition,
            pilot,
            cycle.started_on,
            cycle.predicted_direction,
            predicted_value=cycle.predicted_value,
            rest=rest,
            as_of=day,
        )
        for day in as_of
    ]


def verdict_for(cycle: PdsaCycle, as_of: date | None = None) -> study_rules.Verdict | None:
    """The product's verdict on a started cycle, from the metric's latest data."""
    return verdicts_for(cycle, as_of)[1][0]


def study_cycle(
    user: User,
    cycle: PdsaCycle,
    notes: str,
    *,
    as_of: date | None = None,
    at: datetime | None = None,
) -> PdsaCycle:
    """Study: the product's verdict from the data, kept as it was now, and the team's reading."""
    a3 = cycle.a3
    _may_edit(user, a3)
    problems = Problems()
    if cycle.ended_on is None:
        problems.add(
            "study_notes",
            "Record the Do step first (when the test ended and what happened); then study it.",
        )
    notes = (notes or "").strip()
    if not notes:
        problems.add(
            "study_notes",
            "Say what the team makes of the data: how does it compare with the prediction?",
        )
    problems.raise_if_any()
    # The test ran to its end date: later weeks are not its evidence (the live reading on the
    # cycle's page says what happened since).
    window = min(as_of or timezone.localdate(), cycle.ended_on or timezone.localdate())
    verdict = verdict_for(cycle, window)
    if verdict is None:
        raise A3Error(
            f"{cycle.metric.name} has no data for {cycle.scope_label} yet; refresh the metric, "
            "then study the cycle.",
            "study_notes",
        )
    data = verdict.as_data()
    data["as_of"] = window.isoformat()
    with transaction.atomic():
        cycle.verdict = data
        cycle.study_notes = notes
        cycle.studied_at = at or timezone.now()
        cycle.save()
        record(
            a3,
            user,
            "PDSA studied",
            f"Cycle {cycle.number}: {data['signal_label']}",
            reason=verdict.pilot.sentence,
            at=at,
            metric=cycle.metric,
        )
    return cycle


# --- Act ------------------------------------------------------------------------------------


def act(
    user: User,
    cycle: PdsaCycle,
    decision: str,
    notes: str,
    *,
    adopt_anyway: bool = False,
    at: datetime | None = None,
) -> PdsaCycle:
    """Act: adopt (the countermeasure is adopted; the metric is rebased at the change date),
    adapt (plan the next cycle from this one) or abandon. Adopting a change the data did not
    show working needs saying so (`adopt_anyway`): the chart is not rebased for it."""
    a3 = cycle.a3
    _may_edit(user, a3)
    problems = Problems()
    if cycle.studied_at is None:
        problems.add("decision", "Study the cycle first: the decision follows from the data.")
    if cycle.decision:
        problems.add(
            "decision",
            f"Cycle {cycle.number} was decided already: {cycle.get_decision_display().lower()}.",
        )
    if decision not in Decision.values:
        problems.add("decision", "Choose adopt, adapt or abandon.")
    notes = (notes or "").strip()
    if not notes:
        problems.add("act_notes", "Say why, and what happens next.")
    shown = cycle.verdict.get("signal") == study_rules.PREDICTED
    if (
        decision == Decision.ADOPT
        and cycle.studied_at is not None
        and not shown
        and not adopt_anyway
    ):
        label = cycle.verdict.get("signal_label", "no verdict").lower()
        problems.add(
            "adopt_anyway",
            f"The data does not show this change working ({label}). To adopt it all the same "
            "(for reasons the chart cannot see), tick “Adopt although the data does not show "
            "it” and say why in the notes; the metric is then not rebased.",
        )
    problems.raise_if_any()
    today = at.date() if at else timezone.localdate()
    countermeasure = cycle.countermeasure
    with transaction.atomic():
        cycle.decision = decision
        cycle.act_notes = notes
        cycle.decided_on = today
        if decision == Decision.ADOPT:
            countermeasure.status = CountermeasureStatus.ADOPTED
            # The chart is rebased where the data shows the process changed, and only there.
            cycle.rebase_pending = shown
        elif decision == Decision.ABANDON:
            others = countermeasure.cycles.exclude(pk=cycle.pk).filter(decision="")
            if not others.exists():
                countermeasure.status = CountermeasureStatus.ABANDONED
        countermeasure.save(update_fields=["status"])
        cycle.save()
        record(
            a3,
            user,
            "PDSA decided",
            f"Cycle {cycle.number}: {cycle.get_decision_display()}",
            reason=notes,
            at=at,
        )
    if cycle.rebase_pending and cycle.metric.can_change(user):
        try:
            apply_rebase(user, cycle, at=at)
        except A3Error:
            # The decision stands; the rebase stays pending, for the steward to apply.
            log.warning("rebasing %s after PDSA %s failed", cycle.metric.slug, cycle.pk)
    return cycle


def rebase_reason(cycle: PdsaCycle) -> str:
    what = cycle.countermeasure.title
    if cycle.breakdown and cycle.scope_label.lower() not in what.lower():
        what += f" in {cycle.scope_label}"
    return f"Adopted: {what} (A3 “{cycle.a3.title}”, PDSA {cycle.number})"[:300]


def apply_rebase(user: User | None, cycle: PdsaCycle, *, at: datetime | None = None) -> PdsaCycle:
    """The adopted change becomes a rebase of the metric at the change date, with its reason:
    a new version of the definition, by the steward (or with the demo's authority)."""
    from civicloop.metrics.definition import ChartSettings
    from civicloop.metrics.services import MetricError, save_definition

    metric = cycle.metric
    if user is not None and not metric.can_change(user):
        steward = metric.steward.full_name if metric.steward else "its steward"
        raise NotAllowed(f"Only {steward} may rebase {metric.name}.")
    if not cycle.rebase_pending:
        raise A3Error("This cycle has no rebase waiting.", "")
    assert cycle.started_on is not None
    definition = metric.definition()
    # A pilot's adopted change rebases the pilot's series only: the rest did not change.
    scope = (cycle.breakdown, cycle.value)
    rebases = [
        r
        for r in definition.chart.rebases
        if not (r.on == cycle.started_on and (r.breakdown, r.value) == scope)
    ]
    reason = rebase_reason(cycle)
    rebases.append(Rebase(cycle.started_on, reason, *scope))
    rebases.sort(key=lambda r: r.on)
    chart: ChartSettings = definition.chart
    changed = definition.with_changes(
        chart=type(chart)(chart.type, chart.baseline_points, chart.screening, tuple(rebases))
    )
    try:
        _, version = save_definition(changed, user, reason, check_permission=user is not None)
    except MetricError as error:
        raise A3Error(f"The rebase was not saved: {error}", "") from None
    with transaction.atomic():
        cycle.rebase_pending = False
        cycle.rebase_version = version or metric.current_version
        cycle.save(update_fields=["rebase_pending", "rebase_version"])
        record(
            cycle.a3,
            user,
            "Metric rebased",
            f"{metric.name} rebased at {cycle.started_on:%d %b %Y}",
            reason=reason,
            at=at,
            metric=metric,
        )
    return cycle


def pending_rebases(
    user: User, *, a3: A3 | None = None, metric: Metric | None = None
) -> list[PdsaCycle]:
    """Adopted changes waiting for this person (a steward) to rebase their metrics: of one
    A3, of one metric, or all of them."""
    cycles = PdsaCycle.objects.filter(rebase_pending=True).select_related(
        "metric", "countermeasure__a3__team"
    )
    if a3 is not None:
        cycles = cycles.filter(countermeasure__a3=a3)
    if metric is not None:
        cycles = cycles.filter(metric=metric)
    return [c for c in cycles if c.metric.can_change(user)]
