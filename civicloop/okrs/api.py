"""Plain-data views of OKRs, shared by the pages, their JSON/CSV twins and the exports.

A key result linked to a metric takes its status from the metric's SPC assurance against the
key result's own target ("hit and miss", "consistently passes"), judged on the data up to the
quarter's end; any other key result shows the owner's confidence at the last check-in. A
person who may not see the linked metric sees neither its value nor the progress it implies.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Prefetch, Q
from django.utils import timezone

from civicloop.metrics.api import counts_people, sees_only_public
from civicloop.metrics.spc import SeriesInput, analyse_series
from civicloop.okrs.models import (
    Change,
    ChangeAction,
    CheckIn,
    Confidence,
    KeyResult,
    Mission,
    Objective,
    QuarterClose,
    policy_for,
)
from civicloop.okrs.quarters import Quarter, quarters_of, year_label
from civicloop.okrs.services import due_checkins, fmt_value, total_series
from civicloop.okrs.trend import trend_svg
from civicloop.organizations.models import Team
from civicloop.spc.describe import ASSURANCE_WORDS

if TYPE_CHECKING:
    from civicloop.accounts.models import User

WITHHELD = "Withheld"
# Entries in the history that carry a tracked metric's numbers or name.
_METRIC_FIELDS = {"value", "start_value", "metric"}
# How the history names the fields it records (stored under their model names).
FIELD_LABELS = {
    "start_value": "start value",
    "target_value": "target",
    "decimals": "decimals shown",
    "is_private": "private to its teams",
    "is_active": "active",
    "public_value": "public value",
}


# For narrow columns (the one-page report).
SHORT_ASSURANCE = {
    "consistent_pass": "Passes target",
    "inconsistent": "Hit and miss",
    "consistent_fail": "Fails target",
}

# Assurance read as the confidence words, so a tree can show one status column.
ASSURANCE_AS_CONFIDENCE = {
    "consistent_pass": "on_track",
    "inconsistent": "at_risk",
    "consistent_fail": "off_track",
}


def quarter_data(quarter: Quarter) -> dict[str, Any]:
    return {
        "code": quarter.code,
        "label": quarter.label,
        "start": quarter.start.isoformat(),
        "end": quarter.end.isoformat(),
    }


def _person(user: Any) -> str:
    return str(user) if user is not None else ""


def _closes(teams: Iterable[int], quarter: Quarter) -> dict[int, QuarterClose]:
    return {
        c.team_id: c
        for c in QuarterClose.objects.filter(
            team__in=list(teams), year=quarter.year, quarter=quarter.number
        )
    }


class StatusBatch:
    """Works out the data statuses of many linked key results in one SPC batch."""

    def __init__(self, krs: Sequence[KeyResult], user: User) -> None:
        self.user = user
        self.visible: dict[int, bool] = {}
        self.hidden_small: set[int] = set()
        self.series: dict[int, list[tuple[date, float]]] = {}
        self.status: dict[int, dict[str, Any]] = {}
        inputs: list[SeriesInput] = []
        owners: list[int] = []
        for kr in krs:
            metric = kr.metric
            if metric is None:
                continue
            if metric.pk not in self.visible:
                self.visible[metric.pk] = metric.can_view(user)
            if not self.visible[metric.pk]:
                continue
            total = total_series(metric)
            if total is None or metric.current_version is None:
                continue
            definition = metric.current_version.parsed()
            end = kr.period.end
            keep = [i for i, p in enumerate(total.periods) if date.fromisoformat(p) <= end]
            periods = [date.fromisoformat(total.periods[i]) for i in keep]
            values = [total.values[i] for i in keep]
            small = (
                definition.suppress_below
                and counts_people(definition)
                and sees_only_public(metric, user)
            )
            if small:
                self.hidden_small.add(kr.pk)
                continue
            nums = [total.numerators[i] for i in keep] if total.numerators else []
            dens = [total.denominators[i] for i in keep] if total.denominators else []
            self.series[kr.pk] = [
                (p, float(v))
                for p, v in zip(periods, values, strict=True)
                if v is not None and p >= kr.period.start
            ]
            if not periods or kr.target_value is None:
                continue
            inputs.append(
                SeriesInput(
                    definition,
                    periods,
                    values,
                    nums,
                    dens,
                    own_target=kr.target_value,
                    own_direction=kr.direction or None,
                )
            )
            owners.append(kr.pk)
        for pk, item, spc in zip(owners, inputs, analyse_series(inputs), strict=True):
            e = spc.explanation
            self.status[pk] = {
                "source": "data",
                "direction": item.direction(),  # for the variation icon's colours
                "code": e.assurance,
                "confidence": ASSURANCE_AS_CONFIDENCE.get(e.assurance or ""),
                "label": e.assurance_label if e.assurance else ASSURANCE_WORDS[None],
                "short": SHORT_ASSURANCE.get(e.assurance or "", "Not judged yet"),
                "sentence": e.assurance_sentence
                or "Too few points in the metric's chart to judge the target yet.",
                "variation": e.variation,
                "variation_label": e.variation_label,
                "variation_sentence": e.variation_sentence,
            }

    def may_see_value(self, kr: KeyResult) -> bool:
        if kr.metric is None:
            return True
        return self.visible.get(kr.metric_id or 0, False) and kr.pk not in self.hidden_small


def _latest_checkin(kr: KeyResult) -> CheckIn | None:
    checkins = getattr(kr, "recent_checkins", None)
    if checkins is not None:
        return checkins[0] if checkins else None
    return kr.checkins.first()


def kr_row(
    kr: KeyResult, batch: StatusBatch, closes: dict[int, QuarterClose] | None = None
) -> dict[str, Any]:
    see = batch.may_see_value(kr)
    latest = _latest_checkin(kr)
    progress = kr.progress() if see else None
    if closes is None:
        closes = _closes([kr.team_id], kr.period)
    closed = closes.get(kr.team_id)
    if kr.metric is not None and not see:
        status: dict[str, Any] = {
            "source": "withheld",
            "code": None,
            "confidence": None,
            "label": "Withheld",
            "sentence": "This key result tracks data you may not see.",
        }
    elif kr.pk in batch.status:
        status = batch.status[kr.pk]
    elif latest is not None:
        status = {
            "source": "check-in",
            "code": latest.confidence,
            "confidence": latest.confidence,
            "label": latest.get_confidence_display(),
            "sentence": f"{_person(latest.author) or 'The owner'} judged it "
            f"{latest.get_confidence_display().lower()} at the check-in of "
            f"{timezone.localdate(latest.at):%d %b %Y}.",
        }
    else:
        status = {
            "source": "none",
            "code": None,
            "confidence": None,
            "label": "No check-in yet",
            "sentence": "Nobody has checked in on this key result yet.",
        }
    metric: dict[str, str | None] | None = None
    if kr.metric is not None and batch.visible.get(kr.metric_id or 0):
        metric = {
            "slug": kr.metric.slug,
            "name": kr.metric.name,
            "url": kr.metric.get_absolute_url(),
        }
    elif kr.metric is not None:
        metric = {"slug": None, "name": "a metric you may not see", "url": None}
    return {
        "id": kr.pk,
        "url": kr.get_absolute_url(),
        "title": kr.title,
        "team": kr.team.name,
        "team_slug": kr.team.slug,
        "objective_id": kr.objective_id,
        "owner": _person(kr.owner),
        "quarter": kr.period.code,
        "quarter_label": kr.period.label,
        "kind": kr.kind,
        # With a metric, the start is usually the data's value before the quarter: withheld
        # from whoever may not see the data, like the current value.
        "start": kr.start_value if see else None,
        "target": kr.target_value,
        "start_text": (
            (fmt_value(kr, kr.start_value) if kr.start_value is not None else "")
            if see
            else WITHHELD
        ),
        "target_text": fmt_value(kr, kr.target_value) if kr.target_value is not None else "",
        # The same numbers without their unit, for tables that say it once.
        "start_number": (
            (fmt_value(kr, kr.start_value, unit=False) if kr.start_value is not None else "")
            if see
            else WITHHELD
        ),
        "target_number": (
            fmt_value(kr, kr.target_value, unit=False) if kr.target_value is not None else ""
        ),
        "current_number": (
            ("Done" if kr.done else "Not done")
            if kr.is_milestone
            else (fmt_value(kr, kr.current_value, unit=False) if see else WITHHELD)
        ),
        "unit": kr.unit,
        "direction": kr.direction,
        "weight": kr.weight,
        "current": kr.current_value if see and not kr.is_milestone else None,
        "current_text": (
            ("Done" if kr.done else "Not done")
            if kr.is_milestone
            else (fmt_value(kr, kr.current_value) if see else "Withheld")
        ),
        "current_period": kr.current_period.isoformat() if kr.current_period and see else None,
        "done": kr.done if kr.is_milestone else None,
        "progress": progress,
        "progress_pct": None if progress is None else round(progress * 100),
        "confidence": latest.confidence if latest else None,
        "confidence_label": latest.get_confidence_display() if latest else "No check-in yet",
        "last_check_in": timezone.localdate(latest.at).isoformat() if latest else None,
        "last_checked_by": _person(latest.author) if latest else "",
        "metric": metric,
        "status": status,
        "score": kr.score,
        "score_pct": None if kr.score is None else round(kr.score * 100),
        "outcome": kr.outcome,
        "outcome_label": kr.get_outcome_display() if kr.outcome else "",
        "closed": closed is not None,
        "carried_from": kr.carried_from_id,
    }


def objective_progress(rows: Sequence[dict[str, Any]]) -> float | None:
    """The weighted mean of its key results' progress (one with no value yet counts as 0).
    Left out: key results dropped at a quarter close (the team decided they no longer count)
    and rows whose value is withheld from this reader."""
    total = 0.0
    weights = 0.0
    for row in rows:
        if row["status"]["source"] == "withheld" or row.get("outcome") == "dropped":
            continue
        weights += row["weight"]
        total += row["weight"] * (row["progress"] or 0.0)
    if weights <= 0:
        return None
    return total / weights


def year_score(rows: Sequence[dict[str, Any]]) -> float | None:
    """The objective's year so far: the weighted mean over its quarters' key results of the
    score each closed with (its progress while open). A key result carried over counts once,
    in the quarter it ended in; dropped ones do not count."""
    total = 0.0
    weights = 0.0
    for row in rows:
        if row["status"]["source"] == "withheld" or row.get("outcome") in ("dropped", "carried"):
            continue
        value = row["score"] if row["score"] is not None else (row["progress"] or 0.0)
        weights += row["weight"]
        total += row["weight"] * value
    return total / weights if weights > 0 else None


def _kr_queryset() -> Any:
    return KeyResult.objects.select_related(
        "team", "owner", "metric", "metric__team", "metric__dataset", "metric__current_version"
    ).prefetch_related(
        Prefetch(
            "checkins",
            queryset=CheckIn.objects.select_related("author").order_by("-at", "-pk"),
            to_attr="recent_checkins",
        )
    )


def objective_row(objective: Objective, rows: list[dict[str, Any]], user: User) -> dict[str, Any]:
    progress = objective_progress(rows)
    return {
        "id": objective.pk,
        "url": objective.get_absolute_url(),
        "title": objective.title,
        "description": objective.description,
        "mission": objective.mission.title,
        "mission_slug": objective.mission.slug,
        "team": objective.team.name,
        "team_slug": objective.team.slug,
        "partner_teams": [t.name for t in objective.partner_teams.all()],
        "year": objective.year,
        "year_label": year_label(objective.year),
        "owner": _person(objective.owner),
        "private": objective.is_private,
        "progress": progress,
        "progress_pct": None if progress is None else round(progress * 100),
        "key_results": rows,
    }


def _rows_for(
    objectives: Sequence[Objective], quarter: Quarter, user: User
) -> dict[int, list[dict[str, Any]]]:
    krs = list(
        _kr_queryset().filter(objective__in=objectives, year=quarter.year, quarter=quarter.number)
    )
    batch = StatusBatch(krs, user)
    closes = _closes({kr.team_id for kr in krs}, quarter)
    rows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for kr in krs:
        rows[kr.objective_id].append(kr_row(kr, batch, closes))
    return rows


def _objectives() -> Any:
    return Objective.objects.select_related("mission", "team", "owner").prefetch_related(
        "partner_teams"
    )


def quarter_nav(current: Quarter) -> list[dict[str, Any]]:
    return [{**quarter_data(q), "selected": q == current} for q in quarters_of(current.year)]


def team_okrs_data(team: Team, quarter: Quarter, user: User, today: date) -> dict[str, Any]:
    """A team's objectives for the quarter's year with the quarter's key results, whose
    check-ins are due, and whether the quarter is closed."""
    own = Q(team=team) | Q(partner_teams=team)
    contributing = Q(key_results__team=team, key_results__year=quarter.year)
    objectives = list(
        _objectives()
        .filter(own | contributing, year=quarter.year)
        .distinct()
        .order_by("mission__position", "title")
    )
    objectives = [o for o in objectives if o.can_view(user)]
    rows = _rows_for(objectives, quarter, user)
    closed = (
        QuarterClose.objects.filter(team=team, year=quarter.year, quarter=quarter.number)
        .select_related("closed_by")
        .first()
    )
    due = due_checkins([team], today) if quarter == Quarter.containing(today) else []
    mine = [r for rs in rows.values() for r in rs if r["team_slug"] == team.slug]
    policy = policy_for(team)
    return {
        "team": {"slug": team.slug, "name": team.name, "url": team.get_absolute_url()},
        "quarter": quarter_data(quarter),
        "quarters": quarter_nav(quarter),
        "previous": quarter.previous().code,
        "next": quarter.next().code,
        "is_current": quarter == Quarter.containing(today),
        "governance": {
            "objectives_changed_by": policy.get_objectives_changed_by_display(),
            "checkin_every_days": policy.checkin_every_days,
        },
        "closed": (
            {
                "on": timezone.localdate(closed.closed_at).isoformat(),
                "by": _person(closed.closed_by),
                "reflection": closed.reflection,
            }
            if closed
            else None
        ),
        "progress_pct": _pct(objective_progress(mine)),
        "objectives": [objective_row(o, rows.get(o.pk, []), user) for o in objectives],
        "due": [
            {
                "key_result": d.key_result.title,
                "url": d.key_result.get_absolute_url(),
                "owner": _person(d.key_result.owner),
                "due_on": d.due_on.isoformat(),
                "days_overdue": d.days_overdue(today),
                "last_check_in": d.last_check_in.isoformat() if d.last_check_in else None,
            }
            for d in due
        ],
    }


def _pct(value: float | None) -> int | None:
    return None if value is None else round(value * 100)


def tree_data(user: User, quarter: Quarter) -> dict[str, Any]:
    """Mission -> objective -> key result for the whole organization, as this person may see."""
    objectives = [
        o
        for o in _objectives().filter(year=quarter.year)
        if o.can_view(user)  # visible_to() in SQL would do, but keeps the rule in one place
    ]
    rows = _rows_for(objectives, quarter, user)
    by_mission: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for o in objectives:
        by_mission[o.mission_id].append(objective_row(o, rows.get(o.pk, []), user))
    missions = []
    for mission in Mission.objects.filter(Q(is_active=True) | Q(pk__in=list(by_mission))):
        items = by_mission.get(mission.pk, [])
        scored = [i["progress"] for i in items if i["progress"] is not None]
        missions.append(
            {
                "slug": mission.slug,
                "url": mission.get_absolute_url(),
                "title": mission.title,
                "public_value": mission.public_value,
                "progress_pct": _pct(sum(scored) / len(scored)) if scored else None,
                "objectives": items,
            }
        )
    return {
        "quarter": quarter_data(quarter),
        "quarters": quarter_nav(quarter),
        "previous": quarter.previous().code,
        "next": quarter.next().code,
        "missions": missions,
    }


def tree_csv_rows(data: dict[str, Any]) -> list[list[Any]]:
    out = []
    for m in data["missions"]:
        for o in m["objectives"]:
            for k in o["key_results"] or [None]:
                out.append(
                    [
                        m["title"],
                        o["title"],
                        o["team"],
                        o["progress_pct"],
                        *(
                            [
                                k["title"],
                                k["team"],
                                k["owner"],
                                k["quarter"],
                                _csv_number(k["start"]),
                                _csv_number(k["target"]),
                                _csv_number(k["current"]),
                                k["unit"],
                                k["progress_pct"],
                                k["status"]["label"],
                                k["confidence_label"],
                                k["score_pct"],
                                k["outcome"],
                            ]
                            if k
                            else [""] * 13
                        ),
                    ]
                )
    return out


def _csv_number(value: Any) -> Any:
    """Six significant figures: a computed mean is not 33.57303005308953 to anyone."""
    return float(f"{value:.6g}") if isinstance(value, float) else value


TREE_CSV_HEADER = [
    "mission",
    "objective",
    "objective team",
    "objective progress %",
    "key result",
    "key result team",
    "owner",
    "quarter",
    "start",
    "target",
    "current",
    "unit",
    "progress %",
    "status",
    "confidence",
    "score %",
    "outcome",
]


def sees_metric_values(metric: Any, user: User) -> bool:
    """Whether this person may see the numbers of a metric (StatusBatch's rule): they may see
    the metric, and its small counts are not hidden from them."""
    if not metric.can_view(user):
        return False
    version = metric.current_version
    if version is None:
        return True
    definition = version.parsed()
    return not (
        definition.suppress_below and counts_people(definition) and sees_only_public(metric, user)
    )


def _withheld_key_results(user: User, changes: Sequence[Change]) -> set[int]:
    """Of the key results these changes are about, those tracking a metric whose numbers this
    person may not see: their history must not show what the data moved to."""
    ids = {c.key_result_id for c in changes if c.key_result_id}
    if user.is_superuser or not ids:
        return set()
    krs = KeyResult.objects.filter(pk__in=ids, metric__isnull=False).select_related(
        "metric__team", "metric__dataset", "metric__current_version"
    )
    sees: dict[int, bool] = {}
    out = set()
    for kr in krs:
        assert kr.metric is not None
        if kr.metric_id not in sees:
            sees[kr.metric.pk] = sees_metric_values(kr.metric, user)
        if not sees[kr.metric.pk]:
            out.add(kr.pk)
    return out


def change_row(change: Change, withheld: bool = False) -> dict[str, Any]:
    """`withheld`: the change is about a key result tracking data the reader may not see."""
    url = None
    if change.key_result_id:
        url = f"/okrs/key-results/{change.key_result_id}/"
    elif change.objective_id:
        url = f"/okrs/objectives/{change.objective_id}/"
    elif change.mission is not None:
        url = change.mission.get_absolute_url()
    return {
        "at": timezone.localtime(change.at).isoformat(timespec="minutes"),
        "day": timezone.localdate(change.at).isoformat(),
        "who": _person(change.who) or "The data refresh",
        "team": change.team.name if change.team else "",
        "action": change.action,
        "action_label": change.get_action_display(),
        "subject": change.subject,
        "changes": [
            {
                **d,
                "label": FIELD_LABELS.get(d.get("field", ""), d.get("field", "")),
                **(
                    {"before": WITHHELD, "after": WITHHELD}
                    if withheld and d.get("field") in _METRIC_FIELDS
                    else {}
                ),
            }
            for d in change.changes
        ],
        "reason": _reason(change, withheld),
        "url": url,
    }


NOTE_WITHHELD = "Note withheld: it comments on data you may not see."


def _reason(change: Change, withheld: bool) -> str:
    """An owner's check-in note on restricted data talks about its numbers ("4 shootings this
    week"), so it is withheld with them; so is the refresh's account of what moved."""
    if not withheld or not change.reason:
        return change.reason
    if change.action == ChangeAction.REFRESHED:
        return "The data it tracks was refreshed."
    if change.action in (ChangeAction.CHECKED_IN, ChangeAction.CLOSED):
        return NOTE_WITHHELD
    return change.reason


def _rows(changes: Sequence[Change], user: User) -> list[dict[str, Any]]:
    hidden = _withheld_key_results(user, changes)
    return [change_row(c, c.key_result_id in hidden) for c in changes]


def _visible_changes(user: User) -> Any:
    changes = Change.objects.select_related("who", "team", "mission", "objective")
    if user.is_superuser:
        return changes
    objectives = Objective.objects.visible_to(user).values("pk")
    key_results = KeyResult.objects.visible_to(user).values("pk")
    mine = Team.objects.visible_to(user).values("pk")
    return changes.filter(
        Q(key_result__in=key_results)
        | Q(key_result=None, objective__in=objectives)
        | Q(key_result=None, objective=None, mission__isnull=False)
        | Q(key_result=None, objective=None, mission=None, team__in=mine)
    )


def history_for(
    user: User, *, objective: Objective | None = None, key_result: KeyResult | None = None
) -> list[dict[str, Any]]:
    changes = Change.objects.select_related("who", "team", "mission")
    if key_result is not None:
        changes = changes.filter(key_result=key_result)
    elif objective is not None:
        changes = changes.filter(objective=objective)
    return _rows(list(changes[:500]), user)


def changes_data(user: User, since: date, team: Team | None = None) -> dict[str, Any]:
    start = timezone.make_aware(datetime.combine(since, datetime.min.time()))
    changes = _visible_changes(user).filter(at__gte=start)
    if team is not None:
        changes = changes.filter(team=team)
    rows = _rows(list(changes[:1000]), user)
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["action"]] += 1
    worse = sum(
        1
        for row in rows
        for c in row["changes"]
        if c["field"] == "confidence" and c["after"] in ("At risk", "Off track")
    )
    return {
        "since": since.isoformat(),
        "team": team.slug if team else None,
        "summary": {
            "check_ins": counts["checked_in"],
            "values_from_data": counts["refreshed"],
            "created": counts["created"],
            "changed": counts["changed"],
            "closed": counts["closed"],
            "confidence_dropped": worse,
        },
        "changes": rows,
    }


def default_since(today: date) -> date:
    return today - timedelta(days=7)


def objective_detail_data(objective: Objective, user: User) -> dict[str, Any]:
    quarters = []
    all_rows: list[dict[str, Any]] = []
    for quarter in quarters_of(objective.year):
        rows = _rows_for([objective], quarter, user).get(objective.pk, [])
        all_rows += rows
        quarters.append(
            {
                **quarter_data(quarter),
                "title": f"{objective.title}, {quarter.label}",
                "team_slug": objective.team.slug,
                "progress_pct": _pct(objective_progress(rows)),
                "key_results": rows,
            }
        )
    data = objective_row(objective, [], user)
    data.pop("key_results")
    data["progress_pct"] = None
    data["year_progress_pct"] = _pct(year_score(all_rows))
    data["quarters"] = quarters
    data["mission_url"] = objective.mission.get_absolute_url()
    data["history"] = history_for(user, objective=objective)
    return data


def kr_detail_data(kr: KeyResult, user: User) -> dict[str, Any]:
    batch = StatusBatch([kr], user)
    row = kr_row(kr, batch)
    see = batch.may_see_value(kr)
    checkins = [
        {
            "at": timezone.localtime(c.at).isoformat(timespec="minutes"),
            "day": timezone.localdate(c.at).isoformat(),
            "author": _person(c.author),
            "value": c.value if see else None,
            "value_text": (
                ("Done" if c.done else "Not done")
                if kr.is_milestone
                else (fmt_value(kr, c.value) if see else "Withheld")
            ),
            "from_metric": c.from_metric,
            "confidence": c.confidence,
            "confidence_label": c.get_confidence_display(),
            "note": c.note if see or not c.note else NOTE_WITHHELD,
        }
        for c in kr.checkins.select_related("author")
    ]
    points: list[tuple[date, float]]
    if kr.metric is not None:
        points = batch.series.get(kr.pk, [])
        source = f"the {kr.metric.name} chart" if see else ""
    else:
        points = sorted(
            (date.fromisoformat(str(c["day"])), float(c["value"]))
            for c in checkins
            if c["value"] is not None
        )
        source = "check-ins"
    trend = ""
    if see and points and not kr.is_milestone:
        label = (
            f"Trend from {source}: "
            + "; ".join(f"{d:%d %b} {fmt_value(kr, v)}" for d, v in points[-12:])
            + f". Start {row['start_text']}, target {row['target_text']}."
        )
        trend = trend_svg(
            points,
            first=kr.period.start,
            last=kr.period.end,
            start=kr.start_value,
            target=kr.target_value,
            label=label,
        )
    row.update(
        objective={
            "id": kr.objective_id,
            "title": kr.objective.title,
            "url": kr.objective.get_absolute_url(),
            "team": kr.objective.team.name,
        },
        checkins=checkins,
        history=history_for(user, key_result=kr),
        close_note=kr.close_note if see or not kr.close_note else NOTE_WITHHELD,
    )
    return {"key_result": row, "_trend": trend, "confidences": Confidence.choices}
