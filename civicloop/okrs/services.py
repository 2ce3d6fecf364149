"""The OKR rules: every change to missions, objectives and key results goes through here.

Each function checks permission first (NotAllowed), then the input (OkrError naming the field
and the fix), then saves everything in one transaction with an entry in the history: who, what
changed from what to what, and why. Nothing is half-saved when a check fails.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from civicloop.metrics.definition import Direction
from civicloop.metrics.models import Metric, Series, organization_may_use
from civicloop.metrics.services import latest_run
from civicloop.okrs.models import (
    Change,
    ChangeAction,
    CheckIn,
    Confidence,
    KeyResult,
    KeyResultDirection,
    KeyResultKind,
    Mission,
    Objective,
    OkrPolicy,
    Outcome,
    QuarterClose,
    Reminder,
    is_city_leader,
    policy_for,
)
from civicloop.okrs.quarters import Quarter, year_label
from civicloop.organizations.models import Organization, Role, Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User

log = logging.getLogger(__name__)

NOTE_MAX = 1000


class OkrError(Exception):
    """Bad input: `field` names the form field (or "" for the whole form)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(OkrError):
    """The person may see this but not change it."""


@dataclass
class Problems:
    """Collects every problem of one submission, so a form shows them all at once."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, field_name: str, message: str) -> None:
        self.items.append((field_name, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise OkrInputError(self.items)


class OkrInputError(OkrError):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(problems[0][1], problems[0][0])
        self.problems = problems


# --- history --------------------------------------------------------------------------------


def _show(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Quarter):
        return value.label
    return str(value)


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {"field": name, "before": _show(before.get(name)), "after": _show(after[name])}
        for name in after
        if _show(before.get(name)) != _show(after[name])
    ]


def record(
    who: User | None,
    action: str,
    subject: str,
    *,
    team: Team | None = None,
    mission: Mission | None = None,
    objective: Objective | None = None,
    key_result: KeyResult | None = None,
    changes: list[dict[str, str]] | None = None,
    reason: str = "",
    at: datetime | None = None,
) -> Change:
    return Change.objects.create(
        at=at or timezone.now(),
        who=who,
        action=action,
        subject=subject[:300],
        team=team,
        mission=mission,
        objective=objective,
        key_result=key_result,
        changes=changes or [],
        reason=reason,
    )


def record_kr(who: User | None, action: str, kr: KeyResult, **extra: Any) -> Change:
    """An entry in the history of a key result (its team, objective and quarter named)."""
    return record(
        who,
        action,
        f"Key result “{kr.title}” ({kr.period.label})",
        team=kr.team,
        objective=kr.objective,
        key_result=kr,
        **extra,
    )


def _need_reason(reason: str, problems: Problems) -> str:
    reason = (reason or "").strip()
    if not reason:
        problems.add(
            "reason",
            "Say why this changes (one sentence is enough): the history keeps it for the team "
            "and for scrutiny.",
        )
    return reason


def _keep_unnamed(data: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """A change keeps what it does not name: a caller changing only the title must not make
    a private objective public, unlink a metric or drop partner teams. (A form names every
    field; an empty one is a choice.)"""
    return {**current, **data}


# --- missions -------------------------------------------------------------------------------

_MISSION_FIELDS = ("title", "public_value", "description", "is_active")


def _mission_fields(data: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    title = str(data.get("title") or "").strip()
    public_value = str(data.get("public_value") or "").strip()
    if not title:
        problems.add("title", "Give the mission a title, e.g. “Clean, safe streets”.")
    if len(title) > 200:
        problems.add("title", f"The title has {len(title)} characters; keep it under 200.")
    if not public_value:
        problems.add(
            "public_value",
            "Say the good this mission produces and for whom, in words a resident would use.",
        )
    return {
        "title": title,
        "public_value": public_value,
        "description": str(data.get("description") or "").strip(),
        "is_active": bool(data.get("is_active", True)),
    }


def save_mission(
    user: User, data: Mapping[str, Any], mission: Mission | None = None, reason: str = ""
) -> Mission:
    if not is_city_leader(user):
        raise NotAllowed(
            "Missions are set by the city's leaders: administrators of a city department."
        )
    problems = Problems()
    if mission is not None:
        data = _keep_unnamed(data, {k: getattr(mission, k) for k in _MISSION_FIELDS})
    values = _mission_fields(data, problems)
    if mission is not None:
        reason = _need_reason(reason, problems)
    problems.raise_if_any()
    with transaction.atomic():
        if mission is None:
            base = slugify(values["title"])[:70] or "mission"
            slug, n = base, 2
            # "new" is the address of the form that adds a mission (/okrs/missions/new/).
            while slug == "new" or Mission.objects.filter(slug=slug).exists():
                slug, n = f"{base}-{n}", n + 1
            mission = Mission.objects.create(slug=slug, owner=user, **values)
            record(user, ChangeAction.CREATED, f"Mission “{mission.title}”", mission=mission)
            return mission
        before = {k: getattr(mission, k) for k in values}
        for k, v in values.items():
            setattr(mission, k, v)
        mission.save()
        changes = _diff(before, values)
        if changes:
            record(
                user,
                ChangeAction.CHANGED,
                f"Mission “{mission.title}”",
                mission=mission,
                changes=changes,
                reason=reason,
            )
        return mission


# --- governance -----------------------------------------------------------------------------


def save_policy(user: User, team: Team, objectives_changed_by: str, every_days: int) -> OkrPolicy:
    if not team.can_manage_members(user):
        raise NotAllowed("Only the team's leads set how its OKRs are governed.")
    problems = Problems()
    if objectives_changed_by not in ("leads", "members"):
        problems.add("objectives_changed_by", "Choose “Leads only” or “Leads and members”.")
    if every_days not in (7, 14):
        problems.add("checkin_every_days", "Check-ins are weekly (7) or fortnightly (14).")
    problems.raise_if_any()
    with transaction.atomic():
        policy, _ = OkrPolicy.objects.get_or_create(team=team)
        before = {
            "who changes objectives": policy.get_objectives_changed_by_display(),
            "check-ins every (days)": policy.checkin_every_days,
        }
        policy.objectives_changed_by = objectives_changed_by
        policy.checkin_every_days = every_days
        policy.save()
        after = {
            "who changes objectives": policy.get_objectives_changed_by_display(),
            "check-ins every (days)": policy.checkin_every_days,
        }
        changes = _diff(before, after)
        if changes:
            record(
                user,
                ChangeAction.CHANGED,
                f"OKR governance of {team.name}",
                team=team,
                changes=changes,
            )
    return policy


# --- objectives -----------------------------------------------------------------------------


def may_create_objective(user: User, team: Team) -> bool:
    if user.is_superuser:
        return True
    role = team.role_of(user)
    if role is None:
        return False
    if policy_for(team).objectives_changed_by == "members":
        return role.can_edit
    return role is Role.LEAD


def _objective_fields(
    user: User, team: Team, data: Mapping[str, Any], problems: Problems
) -> dict[str, Any]:
    title = str(data.get("title") or "").strip()
    if not title:
        problems.add("title", "Write the objective in a sentence: what the team will achieve.")
    elif len(title) > 200:
        problems.add("title", f"The title has {len(title)} characters; keep it under 200.")
    mission = data.get("mission")
    if not isinstance(mission, Mission):
        slug = str(mission or "").strip()
        mission = Mission.objects.filter(slug=slug).first() if slug else None
        # An objective keeps a mission that has since been retired; new ones need an active one.
        current = data.get("_current_mission")
        if mission is not None and not mission.is_active and mission != current:
            mission = None
        if mission is None:
            names = ", ".join(Mission.objects.filter(is_active=True).values_list("slug", flat=True))
            problems.add(
                "mission",
                f"Choose the mission this objective serves ({names or 'none defined yet'}).",
            )
    year = data.get("year")
    try:
        year = int(year)  # type: ignore[arg-type]
        if not 2000 <= year <= 2100:
            raise ValueError
    except (TypeError, ValueError):
        problems.add("year", "Give the OKR year as four digits, e.g. 2026.")
        year = None
    owner = data.get("owner") or user
    if not _on_team_as_editor(owner, team):
        problems.add(
            "owner",
            f"The owner must be a lead or member of {team.name}; {owner} is not.",
        )
    partners = list(data.get("partner_teams") or [])
    partners = [t for t in partners if t.pk != team.pk]
    return {
        "title": title,
        "description": str(data.get("description") or "").strip(),
        "mission": mission,
        "year": year,
        "owner": owner,
        "is_private": bool(data.get("is_private", False)),
        "partner_teams": partners,
    }


def _on_team_as_editor(person: Any, team: Team) -> bool:
    if person is None or not getattr(person, "is_authenticated", False):
        return False
    role = team.role_of(person)
    return role is not None and role.can_edit


def create_objective(
    user: User, team: Team, data: Mapping[str, Any], *, at: datetime | None = None
) -> Objective:
    """`at` backdates the record (the demo's history); pages never pass it."""
    if not may_create_objective(user, team):
        raise NotAllowed(_governance_sentence(team))
    problems = Problems()
    values = _objective_fields(user, team, data, problems)
    problems.raise_if_any()
    partners = values.pop("partner_teams")
    with transaction.atomic():
        moment = at or timezone.now()
        objective = Objective.objects.create(
            team=team, created_at=moment, updated_at=moment, **values
        )
        objective.partner_teams.set(partners)
        record(
            user,
            ChangeAction.CREATED,
            f"Objective “{objective.title}” ({year_label(objective.year)})",
            team=team,
            mission=objective.mission,
            objective=objective,
            at=moment,
        )
    return objective


def _governance_sentence(team: Team) -> str:
    who = "leads and members" if policy_for(team).objectives_changed_by == "members" else "leads"
    return f"{team.name}'s governance lets its {who} write and change its objectives."


def change_objective(
    user: User,
    objective: Objective,
    data: Mapping[str, Any],
    reason: str,
    *,
    at: datetime | None = None,
) -> Objective:
    if not objective.can_change(user):
        raise NotAllowed(_governance_sentence(objective.team))
    problems = Problems()
    data = _keep_unnamed(
        data,
        {
            "title": objective.title,
            "description": objective.description,
            "mission": objective.mission,
            "year": objective.year,
            "is_private": objective.is_private,
            "partner_teams": list(objective.partner_teams.all()),
        },
    )
    if not data.get("owner"):
        data = {**data, "owner": objective.owner}  # a change keeps the owner unless it names one
    data = {**data, "_current_mission": objective.mission}
    values = _objective_fields(user, objective.team, data, problems)
    reason = _need_reason(reason, problems)
    moved = values["year"] is not None and values["year"] != objective.year
    if moved and objective.key_results.exists():
        problems.add(
            "year",
            f"The objective has key results in {year_label(objective.year)}; its year "
            "cannot move. Write a new objective for the other year.",
        )
    problems.raise_if_any()
    partners = values.pop("partner_teams")
    with transaction.atomic():
        before: dict[str, Any] = {k: getattr(objective, k) for k in values}
        before["partner teams"] = ", ".join(sorted(t.name for t in objective.partner_teams.all()))
        for k, v in values.items():
            setattr(objective, k, v)
        objective.updated_at = at or timezone.now()
        objective.save()
        objective.partner_teams.set(partners)
        after = {**values, "partner teams": ", ".join(sorted(t.name for t in partners))}
        changes = _diff(before, after)
        if changes:
            record(
                user,
                ChangeAction.CHANGED,
                f"Objective “{objective.title}” ({year_label(objective.year)})",
                team=objective.team,
                mission=objective.mission,
                objective=objective,
                changes=changes,
                reason=reason,
                at=at,
            )
    return objective


# --- key results ----------------------------------------------------------------------------


def is_quarter_closed(team: Team, quarter: Quarter) -> QuarterClose | None:
    return QuarterClose.objects.filter(team=team, year=quarter.year, quarter=quarter.number).first()


def closed_sentence(team: Team, closed: QuarterClose) -> str:
    return (
        f"{closed.period.label} of {team.name} was closed on {closed.closed_at:%d %b %Y}; its "
        f"record is read-only. Work on {closed.period.next().label} instead."
    )


def metric_problem(user: User, metric: Metric, team: Team) -> str | None:
    """Why this team may not track this metric, or None. Never names data the person may not
    see: a metric they cannot see is simply not found."""
    if not metric.can_view(user):
        return f"There is no metric “{metric.slug}” that you can see."
    if metric.is_public:
        return None
    org_ids = set(
        team.memberships.values_list("person__organization", flat=True).exclude(
            person__organization=None
        )
    )
    datasets = [metric.dataset, *([metric.population_dataset] if metric.population_dataset else [])]
    blocked = sorted(
        {
            org.name
            for org in Organization.objects.filter(pk__in=org_ids)
            for dataset in datasets
            if not organization_may_use(dataset, org)
        }
    )
    if blocked:
        return (
            f"“{metric.name}” reads restricted data ({metric.dataset.name}) that "
            f"{', '.join(blocked)} on {team.name} may not see, so {team.name} cannot track it. "
            "Choose a metric the whole team may see, or ask the data's owner to extend its "
            "sharing agreement."
        )
    return None


def total_series(metric: Metric) -> Series | None:
    """The metric's total from its latest computation (None before the first)."""
    run = latest_run(metric)
    return run.series.filter(breakdown="").first() if run else None


def value_by(
    series: Series | None, day: date, *, before: bool = False
) -> tuple[float | None, date | None]:
    """The series' latest value in a period starting by `day` (strictly before it, with
    `before`), and that period's start."""
    if series is None:
        return None, None
    for period, value in zip(reversed(series.periods), reversed(series.values), strict=True):
        start = date.fromisoformat(period)
        if (start < day if before else start <= day) and value is not None:
            return float(value), start
    return None, None


def metric_value(
    metric: Metric, quarter: Quarter, until: date | None = None
) -> tuple[float | None, date | None]:
    """The metric's latest value (its total) in a period that starts by the quarter's end (or
    by `until`, when earlier: what the data said on a past check-in's day)."""
    cutoff = quarter.end if until is None else min(quarter.end, until)
    return value_by(total_series(metric), cutoff)


def metric_value_before(metric: Metric, day: date) -> float | None:
    """The value of the last period that started before `day` (a key result's start)."""
    return value_by(total_series(metric), day, before=True)[0]


def _number(data: Mapping[str, Any], name: str, problems: Problems, label: str) -> float | None:
    raw = data.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = float(str(raw).replace(",", "").strip())
    except ValueError:
        problems.add(name, f"The {label} must be a number, not “{raw}”.")
        return None
    if value != value or value in (float("inf"), float("-inf")):
        problems.add(name, f"The {label} must be a finite number.")
        return None
    return value


def _key_result_fields(
    user: User,
    objective: Objective,
    team: Team,
    data: Mapping[str, Any],
    problems: Problems,
    existing: KeyResult | None = None,
) -> dict[str, Any]:
    title = str(data.get("title") or "").strip()
    if not title:
        problems.add("title", "Write the key result: what will be measurably different.")
    elif len(title) > 200:
        problems.add("title", f"The title has {len(title)} characters; keep it under 200.")
    quarter: Quarter | None = None
    raw_quarter = data.get("quarter")
    if isinstance(raw_quarter, Quarter):
        quarter = raw_quarter
    else:
        try:
            quarter = Quarter.parse(str(raw_quarter or ""))
        except ValueError as error:
            problems.add("quarter", str(error))
    if quarter is not None and quarter.year != objective.year:
        problems.add(
            "quarter",
            f"{quarter.label} is outside the objective's year ({year_label(objective.year)}): "
            f"choose {objective.year}-Q1 to {objective.year}-Q4, or add it to an objective "
            f"for {year_label(quarter.year)}.",
        )
    if quarter is not None and (existing is None or existing.period != quarter):
        # Neither the key result's team nor the objective's may have closed the quarter: a
        # closed quarter's record, and its objective's progress, no longer change.
        for owner_team in dict.fromkeys([team, objective.team]):
            closed = is_quarter_closed(owner_team, quarter)
            if closed is not None:
                problems.add("quarter", closed_sentence(owner_team, closed))
                break
    kind = str(data.get("kind") or KeyResultKind.MEASURE)
    if kind not in KeyResultKind.values:
        problems.add("kind", "Choose a measure (start value and target) or a milestone.")
        kind = KeyResultKind.MEASURE
    weight = _number(data, "weight", problems, "weight")
    if weight is None and not any(f == "weight" for f, _ in problems.items):
        weight = 1.0
    if weight is not None and weight < 0:
        problems.add(
            "weight", f"The weight is {weight:g}; weights cannot be negative. Use 0 or more."
        )
    decimals_raw = data.get("decimals") or 0
    try:
        decimals = int(decimals_raw)
        if not 0 <= decimals <= 6:
            raise ValueError
    except (TypeError, ValueError):
        problems.add("decimals", "Decimals shown must be a whole number from 0 to 6.")
        decimals = 0
    # A new key result is the writer's unless they name another owner; a change keeps its owner.
    owner = data.get("owner") or (existing.owner if existing is not None else user)
    if not _on_team_as_editor(owner, team):
        problems.add(
            "owner",
            f"The owner must be a lead or member of {team.name}, who checks in on it; "
            f"{owner} is not.",
        )

    metric = data.get("metric")
    if metric is not None and not isinstance(metric, Metric):
        slug = str(metric).strip()
        metric = Metric.objects.filter(slug=slug).first() if slug else None
        if slug and metric is None:
            problems.add("metric", f"There is no metric “{slug}” that you can see.")
    start = _number(data, "start_value", problems, "start value")
    target = _number(data, "target_value", problems, "target")
    unit = str(data.get("unit") or "").strip()[:40]
    direction = ""
    if kind == KeyResultKind.MILESTONE:
        start = target = None
        if metric is not None:
            problems.add("metric", "A milestone is done or not done; it cannot track a metric.")
            metric = None
    else:
        if metric is not None:
            problem = metric_problem(user, metric, team)
            if problem:
                problems.add("metric", problem)
                metric = None
        if metric is not None and start is None and quarter is not None:
            start = metric_value_before(metric, quarter.start)
            if start is None:
                problems.add(
                    "start_value",
                    f"“{metric.name}” has no value before {quarter.label} to start from; give "
                    "the start value.",
                )
        elif start is None and not any(f == "start_value" for f, _ in problems.items):
            problems.add("start_value", "Give the start value: where the measure is today.")
        if target is None and not any(f == "target_value" for f, _ in problems.items):
            problems.add("target_value", "Give the target: where it should be by quarter end.")
        if start is not None and target is not None:
            if start == target:
                problems.add(
                    "target_value",
                    f"The target equals the start value ({start:g}), so progress could never "
                    "be measured. Set a target that differs from the start.",
                )
            else:
                direction = (
                    KeyResultDirection.INCREASE if target > start else KeyResultDirection.DECREASE
                )
        if metric is not None and direction:
            better = metric.definition().direction
            wrong = (better is Direction.HIGHER_IS_BETTER and direction == "decrease") or (
                better is Direction.LOWER_IS_BETTER and direction == "increase"
            )
            if wrong:
                word = "higher" if better is Direction.HIGHER_IS_BETTER else "lower"
                problems.add(
                    "target_value",
                    f"“{metric.name}” is better when {word}, but this target moves it the other "
                    f"way (from {start:g} to {target:g}). Check the target, or link another "
                    "metric.",
                )
        if metric is not None and not unit:
            unit = metric.definition().unit[:40]
    return {
        "title": title,
        "quarter": quarter,
        "kind": kind,
        "start_value": start,
        "target_value": target,
        "unit": unit,
        "direction": direction,
        "decimals": decimals,
        "weight": weight,
        "metric": metric,
        "owner": owner,
    }


def _check_weights(
    objective: Objective, quarter: Quarter, weight: float, problems: Problems, skip: int | None
) -> None:
    if weight < 0:
        return  # already refused as negative; "would weigh 0" would not be true
    others = objective.key_results.filter(year=quarter.year, quarter=quarter.number)
    if skip is not None:
        others = others.exclude(pk=skip)
    total = weight + sum(others.values_list("weight", flat=True))
    if total <= 0:
        problems.add(
            "weight",
            f"Every key result of “{objective.title}” in {quarter.label} would weigh 0, so the "
            "objective would have no progress. Give at least one a weight above 0.",
        )


def create_key_result(
    user: User,
    objective: Objective,
    team: Team,
    data: Mapping[str, Any],
    *,
    at: datetime | None = None,
) -> KeyResult:
    if not objective.can_view(user):
        raise NotAllowed("There is no such objective.")
    role = team.role_of(user)
    if not (user.is_superuser or (role is not None and role.can_edit)):
        raise NotAllowed(
            f"Key results of {team.name} are written by its leads and members; you can read them."
        )
    if team.pk not in {t.pk for t in objective.teams()}:
        raise OkrError(
            f"{team.name} does not share “{objective.title}”, so its key results cannot count "
            f"towards it. Ask {objective.team.name}'s leads to share the objective with "
            f"{team.name}, or write the key result under one of {team.name}'s objectives.",
            "team",
        )
    problems = Problems()
    values = _key_result_fields(user, objective, team, data, problems)
    if values["quarter"] is not None and values["weight"] is not None:
        _check_weights(objective, values["quarter"], values["weight"], problems, None)
    problems.raise_if_any()
    quarter = values.pop("quarter")
    with transaction.atomic():
        moment = at or timezone.now()
        kr = KeyResult(
            objective=objective,
            team=team,
            year=quarter.year,
            quarter=quarter.number,
            created_at=moment,
            updated_at=moment,
        )
        for k, v in values.items():
            setattr(kr, k, v)
        if kr.metric is not None:
            kr.current_value, kr.current_period = metric_value(kr.metric, quarter)
        kr.save()
        record_kr(
            user,
            ChangeAction.CREATED,
            kr,
            at=moment,
        )
    return kr


def _kr_snapshot(kr: KeyResult) -> dict[str, Any]:
    return {
        "title": kr.title,
        "quarter": kr.period,
        "kind": kr.get_kind_display(),
        "start_value": kr.start_value,
        "target_value": kr.target_value,
        "unit": kr.unit,
        "decimals": kr.decimals,
        "weight": kr.weight,
        "metric": kr.metric.name if kr.metric else None,
        "owner": kr.owner,
    }


def change_key_result(user: User, kr: KeyResult, data: Mapping[str, Any], reason: str) -> KeyResult:
    if not kr.can_change(user):
        raise NotAllowed(
            f"Key results of {kr.team.name} are changed by its leads and members; you can read "
            "them."
        )
    closed = is_quarter_closed(kr.team, kr.period)
    if closed is not None:
        raise OkrError(closed_sentence(kr.team, closed))
    problems = Problems()
    data = _keep_unnamed(
        data,
        {
            "title": kr.title,
            "quarter": kr.period,
            "kind": kr.kind,
            "metric": kr.metric,
            "start_value": kr.start_value,
            "target_value": kr.target_value,
            "unit": kr.unit,
            "decimals": kr.decimals,
            "weight": kr.weight,
        },
    )
    values = _key_result_fields(user, kr.objective, kr.team, data, problems, existing=kr)
    reason = _need_reason(reason, problems)
    if values["quarter"] is not None and values["weight"] is not None:
        _check_weights(kr.objective, values["quarter"], values["weight"], problems, kr.pk)
    problems.raise_if_any()
    with transaction.atomic():
        before = _kr_snapshot(kr)
        quarter = values.pop("quarter")
        kr.year, kr.quarter = quarter.year, quarter.number
        relinked = values["metric"] != kr.metric
        for k, v in values.items():
            setattr(kr, k, v)
        if kr.metric is not None:
            kr.current_value, kr.current_period = metric_value(kr.metric, quarter)
        elif relinked:
            kr.current_period = None
        kr.updated_at = timezone.now()
        kr.save()
        changes = _diff(before, _kr_snapshot(kr))
        if changes:
            record_kr(
                user,
                ChangeAction.CHANGED,
                kr,
                changes=changes,
                reason=reason,
            )
    return kr


def fmt_value(kr: KeyResult, value: float | None, *, unit: bool = True) -> str:
    """A key result's number as people read it: "3.8 days", "96%" (`unit=False`: "3.8", for
    tables that name the unit once)."""
    if value is None:
        return "—"
    text = f"{value:,.{kr.decimals}f}"
    if kr.unit == "%":
        return f"{text}%"
    return f"{text} {kr.unit}".strip() if unit else text


def check_in(
    user: User,
    kr: KeyResult,
    *,
    confidence: str,
    note: str = "",
    value: Any = None,
    done: bool | None = None,
    at: datetime | None = None,
) -> CheckIn:
    if not kr.can_change(user):
        raise NotAllowed(
            f"Check-ins on {kr.team.name}'s key results are made by its leads and members."
        )
    closed = is_quarter_closed(kr.team, kr.period)
    if closed is not None:
        raise OkrError(closed_sentence(kr.team, closed))
    moment = at or timezone.now()
    today = timezone.localdate(moment) if timezone.is_aware(moment) else moment.date()
    problems = Problems()
    if today < kr.period.start:
        problems.add(
            "",
            f"{kr.period.label} starts on {kr.period.start:%d %b %Y}; check in once it has "
            "started.",
        )
    if confidence not in Confidence.values:
        problems.add("confidence", "Choose how confident you are: on track, at risk or off track.")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        problems.add(
            "note", f"The note has {len(note)} characters; keep it under {NOTE_MAX} (a few lines)."
        )
    number: float | None = None
    from_metric = False
    if kr.is_milestone:
        done = bool(done)
    elif kr.metric is not None:
        from_metric = True
        series = total_series(kr.metric)  # read once: the day's value and the latest
        number, _ = value_by(series, min(kr.period.end, today))
        current = value_by(series, kr.period.end)
        done = None
    else:
        number = _number({"value": value}, "value", problems, "value")
        if number is None and not any(f == "value" for f, _ in problems.items):
            problems.add("value", f"Give the current value{f' (in {kr.unit})' if kr.unit else ''}.")
        done = None
    problems.raise_if_any()
    with transaction.atomic():
        previous = kr.checkins.first()
        checkin = CheckIn.objects.create(
            key_result=kr,
            author=user,
            at=moment,
            value=number,
            done=done,
            from_metric=from_metric,
            confidence=confidence,
            note=note,
        )
        changes: list[dict[str, str]] = []
        if kr.is_milestone:
            if kr.done != done:
                changes.append({"field": "done", "before": _show(kr.done), "after": _show(done)})
            kr.done = bool(done)
        elif not from_metric:
            if kr.current_value != number:
                changes.append(
                    {
                        "field": "value",
                        "before": fmt_value(kr, kr.current_value),
                        "after": fmt_value(kr, number),
                    }
                )
            kr.current_value = number
        else:
            kr.current_value, kr.current_period = current
        before_conf = previous.get_confidence_display() if previous else "—"
        after_conf = checkin.get_confidence_display()
        if before_conf != after_conf:
            changes.append({"field": "confidence", "before": before_conf, "after": after_conf})
        kr.updated_at = moment
        kr.save()
        record_kr(
            user,
            ChangeAction.CHECKED_IN,
            kr,
            changes=changes,
            reason=note,
            at=moment,
        )
    return checkin


def follow_metric(metric: Metric) -> int:
    """After a refresh: every open key result tracking this metric takes its new value.
    Returns how many moved."""
    moved = 0
    series = total_series(metric)
    for kr in KeyResult.objects.filter(metric=metric).select_related("team", "objective"):
        if is_quarter_closed(kr.team, kr.period) is not None:
            continue  # a closed quarter keeps the value it closed with
        value, period = value_by(series, kr.period.end)
        if value == kr.current_value and period == kr.current_period:
            continue
        with transaction.atomic():
            before = fmt_value(kr, kr.current_value)
            kr.current_value, kr.current_period = value, period
            kr.save(update_fields=["current_value", "current_period"])
            record_kr(
                None,
                ChangeAction.REFRESHED,
                kr,
                changes=[{"field": "value", "before": before, "after": fmt_value(kr, value)}],
                reason=f"“{metric.name}” was refreshed"
                + (f"; its latest period starts {period:%d %b %Y}." if period else "."),
            )
        moved += 1
    return moved


# --- quarter close --------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    score: Any  # a percentage 0-100 as typed, or a number
    outcome: str
    note: str = ""


def close_quarter(
    user: User,
    team: Team,
    quarter: Quarter,
    reflection: str,
    decisions: Mapping[int, Decision],
    today: date | None = None,
    *,
    at: datetime | None = None,
) -> QuarterClose:
    """Score each key result, keep the team's reflection, carry over or drop; then the
    quarter is read-only."""
    if not team.can_manage_members(user):
        raise NotAllowed(f"{team.name}'s leads close its quarter.")
    today = today or timezone.localdate()
    closed = is_quarter_closed(team, quarter)
    if closed is not None:
        raise OkrError(closed_sentence(team, closed))
    problems = Problems()
    if today < quarter.start:
        problems.add(
            "",
            f"{quarter.label} has not started yet; it can be closed from {quarter.start:%d %b %Y}.",
        )
    reflection = (reflection or "").strip()
    if not reflection:
        problems.add(
            "reflection",
            "Write the team's reflection: what worked, what did not, what you will do "
            "differently next quarter.",
        )
    krs = list(
        KeyResult.objects.filter(team=team, year=quarter.year, quarter=quarter.number)
        .select_related("objective")
        .order_by("pk")
    )
    scores: dict[int, float] = {}
    for kr in krs:
        decision = decisions.get(kr.pk)
        prefix = f"kr-{kr.pk}-"
        if decision is None:
            problems.add(f"{prefix}outcome", f"Decide what happens to “{kr.title}”.")
            continue
        if decision.outcome not in (Outcome.COMPLETED, Outcome.CARRIED, Outcome.DROPPED):
            problems.add(
                f"{prefix}outcome",
                f"“{kr.title}”: choose completed, carry over or drop.",
            )
        if decision.outcome == Outcome.CARRIED and quarter.number == 4:
            problems.add(
                f"{prefix}outcome",
                f"“{kr.title}” cannot carry over: its objective's year ends with {quarter.label}. "
                f"Mark it completed or dropped, and write it into an objective for "
                f"{year_label(quarter.year + 1)}.",
            )
        elif decision.outcome == Outcome.CARRIED and is_quarter_closed(team, quarter.next()):
            problems.add(
                f"{prefix}outcome",
                f"“{kr.title}” cannot carry over: {quarter.next().label} is already closed. "
                "Mark it completed or dropped.",
            )
        key = f"{prefix}score"
        number = _number({key: decision.score}, key, problems, f"score of “{kr.title}”")
        if number is None:
            if not any(f == key for f, _ in problems.items):
                problems.add(key, f"Score “{kr.title}” from 0 to 100 %.")
        elif not 0 <= number <= 100:
            problems.add(
                f"{prefix}score", f"“{kr.title}” is scored {number:g}; scores run from 0 to 100 %."
            )
        else:
            scores[kr.pk] = number / 100
        if len(decision.note or "") > NOTE_MAX:
            problems.add(
                f"{prefix}note", f"The note on “{kr.title}” is over {NOTE_MAX} characters."
            )
    problems.raise_if_any()
    with transaction.atomic():
        close = QuarterClose.objects.create(
            team=team,
            year=quarter.year,
            quarter=quarter.number,
            reflection=reflection,
            closed_by=user,
            closed_at=at or timezone.now(),
        )
        for kr in krs:
            decision = decisions[kr.pk]
            kr.score = scores[kr.pk]
            kr.outcome = decision.outcome
            kr.close_note = (decision.note or "").strip()
            kr.save(update_fields=["score", "outcome", "close_note"])
            record_kr(
                user,
                ChangeAction.CLOSED,
                kr,
                changes=[
                    {"field": "score", "before": "—", "after": f"{kr.score:.0%}"},
                    {"field": "outcome", "before": "Open", "after": kr.get_outcome_display()},
                ],
                reason=kr.close_note,
                at=close.closed_at,
            )
            if decision.outcome == Outcome.CARRIED:
                _carry_over(user, kr, quarter.next(), close.closed_at)
        record(
            user,
            ChangeAction.CLOSED,
            f"{team.name}: {quarter.label}",
            team=team,
            reason=reflection,
            at=close.closed_at,
        )
    return close


def _carry_over(user: User, kr: KeyResult, quarter: Quarter, at: datetime) -> KeyResult:
    start = kr.current_value if kr.current_value is not None else kr.start_value
    if not kr.is_milestone and kr.progress() == 1.0:
        # The target was reached (or passed) yet carried over: keep the original span, rather
        # than start at or beyond the target (no span, or one running the other way).
        start = kr.start_value
    carried = KeyResult.objects.create(
        objective=kr.objective,
        team=kr.team,
        year=quarter.year,
        quarter=quarter.number,
        title=kr.title,
        owner=kr.owner,
        kind=kr.kind,
        start_value=start,
        target_value=kr.target_value,
        unit=kr.unit,
        direction=kr.direction,
        decimals=kr.decimals,
        weight=kr.weight,
        metric=kr.metric,
        carried_from=kr,
        current_value=kr.current_value if kr.metric else None,
        current_period=kr.current_period if kr.metric else None,
        done=False,
        created_at=at,
        updated_at=at,
    )
    if carried.metric is not None:
        carried.current_value, carried.current_period = metric_value(carried.metric, quarter)
        carried.save(update_fields=["current_value", "current_period"])
    record_kr(
        user,
        ChangeAction.CARRIED,
        carried,
        changes=[{"field": "quarter", "before": kr.period.label, "after": quarter.label}],
        reason=f"Carried over from {kr.period.label}.",
        at=at,
    )
    return carried


# --- check-ins due and reminders ------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    key_result: KeyResult
    due_on: date
    last_check_in: date | None

    def days_overdue(self, today: date) -> int:
        return (today - self.due_on).days


def due_checkins(teams: Iterable[Team] | None = None, today: date | None = None) -> list[Due]:
    """Key results of the current quarter whose owner's check-in is due (or overdue)."""
    today = today or timezone.localdate()
    quarter = Quarter.containing(today)
    krs = KeyResult.objects.filter(year=quarter.year, quarter=quarter.number).exclude(owner=None)
    if teams is not None:
        krs = krs.filter(team__in=list(teams))
    closed = set(
        QuarterClose.objects.filter(year=quarter.year, quarter=quarter.number).values_list(
            "team_id", flat=True
        )
    )
    policies = {p.team_id: p.checkin_every_days for p in OkrPolicy.objects.all()}
    out = []
    for kr in krs.select_related("owner", "team", "objective"):
        if kr.team_id in closed or not _on_team_as_editor(kr.owner, kr.team):
            continue  # closed, or the owner has left the team (or only reads now)
        last = kr.checkins.only("at").first()
        last_day = timezone.localdate(last.at) if last else None
        since = last_day or max(quarter.start, timezone.localdate(kr.created_at))
        due_on = since + timedelta(days=policies.get(kr.team_id, 7))
        if due_on <= today:
            out.append(Due(kr, due_on, last_day))
    out.sort(key=lambda d: (d.due_on, d.key_result.team.name, d.key_result.title))
    return out


@dataclass
class ReminderReport:
    emails: int = 0
    key_results: int = 0
    people: list[str] = field(default_factory=list)
    already: int = 0  # due check-ins whose owner was reminded before


def send_reminders(today: date | None = None, *, dry_run: bool = False) -> ReminderReport:
    """Email each owner whose check-ins are due, once per due date."""
    today = today or timezone.localdate()
    report = ReminderReport()
    by_owner: dict[int, list[Due]] = {}
    for due in due_checkins(today=today):
        if Reminder.objects.filter(key_result=due.key_result, due_on=due.due_on).exists():
            report.already += 1
            continue
        assert due.key_result.owner_id is not None
        by_owner.setdefault(due.key_result.owner_id, []).append(due)
    for items in by_owner.values():
        owner = items[0].key_result.owner
        assert owner is not None
        report.people.append(owner.email)
        report.key_results += len(items)
        if dry_run:
            continue
        lines = [
            f"Hello {owner.get_short_name()},",
            "",
            "These key results are waiting for your check-in (a value where it is not taken "
            "from the data, your confidence, and a short note):",
            "",
        ]
        for due in items:
            kr = due.key_result
            late = due.days_overdue(today)
            when = "due today" if late == 0 else f"{late} day{'s' if late != 1 else ''} overdue"
            lines.append(f"- {kr.title} ({kr.team.name}, {kr.period.label}): {when}")
            lines.append(f"  {settings.SITE_URL}{kr.get_absolute_url()}")
        lines += ["", "— civicloop"]
        subject = (
            f"Check-in due: {items[0].key_result.title}"
            if len(items) == 1
            else f"{len(items)} check-ins due"
        )
        with transaction.atomic():
            for due in items:
                Reminder.objects.get_or_create(
                    key_result=due.key_result, due_on=due.due_on, defaults={"person": owner}
                )
            send_mail(subject, "\n".join(lines), None, [owner.email])
        report.emails += 1
    return report
