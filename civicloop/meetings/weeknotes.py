"""Weeknotes: each team's week on a page, drafted by the product from what changed, edited by a
person into notes the team wants to read, then published as a page, an email digest and an
RSS feed.

The draft is written from five kinds of fact, each for the Monday-to-Sunday week:
- signals that appeared or ended: each metric's total series, read by SPC with the periods
  complete by the week's start and again with those complete by its end;
- data loaded: new versions of the datasets the team's metrics read;
- key results that moved: their value, done or confidence changed by a check-in or a refresh;
- actions opened (made in the week) and closed (done or dropped in the week);
- A3 steps: the history of the team's A3s (started, states, countermeasures, PDSA steps...).

Who the draft is written for: a weeknote is read and emailed to everyone on the team, so the
product drafts only from what *every* member may see, whoever presses the button. A metric's
signal is mentioned only when every member may see its numbers (small counts not hidden from
any of them); a dataset is named only when every member may see it; a key result tracking a
metric some member may not see moves without its numbers; an A3 step about such a metric
keeps only what happened. What a person then writes into the body is theirs to judge.

A person's edit is never overwritten: drafting again refreshes what the product drafted
(`drafted`, `facts`) and, when the body was edited, the page says a newer draft is there to
take. A published weeknote is a record: drafting never changes it, and nor does editing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Q, Subquery
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import feedgenerator, timezone

from civicloop.core.markdown import render as render_markdown
from civicloop.datasets.models import Dataset, DatasetVersion
from civicloop.improvement.models import A3Event
from civicloop.meetings.models import Action, Weeknote, WeeknoteState
from civicloop.metrics.api import counts_people, sees_only_public
from civicloop.metrics.models import Metric, Series, SeriesRun
from civicloop.metrics.periods import period_last_day
from civicloop.metrics.spc import SeriesInput, analyse_series
from civicloop.okrs.models import Change, ChangeAction, KeyResult
from civicloop.organizations.models import Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User

log = logging.getLogger(__name__)

FEED_SALT = "civicloop.weeknotes.feed"
FEED_ITEMS = 20
TITLE_MAX = 200
BODY_MAX = 20_000
A3_STEPS_SHOWN = 6

# The kinds of fact, in the order the draft tells them, with their headings and what the
# draft says when a kind has nothing that week.
KINDS = (
    ("signals", "Signals", "no signal appeared or ended"),
    ("key_results", "Key results that moved", "no key result moved"),
    ("actions", "Actions opened and closed", "no action was opened or closed"),
    ("a3s", "A3 steps", "no A3 moved on"),
    ("data", "Data loaded", "no new data was loaded"),
)

VARIATION_PHRASES = {
    "special_cause_concern": "special cause of concern",
    "special_cause_improvement": "special cause of improvement",
    "special_cause_neutral_high": "special cause (unusually high)",
    "special_cause_neutral_low": "special cause (unusually low)",
}


class SignalChange(StrEnum):
    """How a metric's SPC reading moved in the week."""

    APPEARED = "appeared"  # from common cause (or no reading) into a special cause
    ENDED = "ended"  # out of a special cause, back to common cause
    CHANGED = "changed"  # from one special cause straight to another (concern to improvement)


# A3 history entries that are housekeeping rather than a step the team would tell others of.
A3_QUIET_ACTIONS = {
    "Sharing",
    "Chart removed",
    "Customer's voice removed",
    "Countermeasure changed",
    "Action changed",
    "PDSA plan changed",
    "Goal measure",
}


class WeeknoteError(Exception):
    """Bad input or a refused step: each problem is (field name or "", message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _, message in problems))

    @classmethod
    def one(cls, field_name: str, message: str) -> WeeknoteError:
        return cls([(field_name, message)])


class NotAllowed(WeeknoteError):
    def __init__(self, message: str) -> None:
        super().__init__([("", message)])


# --- weeks ----------------------------------------------------------------------------------


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _window(monday: date) -> tuple[datetime, datetime]:
    """The week as moments in the city's time zone: from Monday 00:00 to the next Monday."""
    start = timezone.make_aware(datetime.combine(monday, time.min))
    end = timezone.make_aware(datetime.combine(monday + timedelta(days=7), time.min))
    return start, end


def week_label(monday: date) -> str:
    """ "Monday 23 to Sunday 29 November 2026" (months and years named only where they differ)."""
    sunday = monday + timedelta(days=6)
    if monday.year != sunday.year:
        first = f"{monday.day} {monday:%B %Y}"
    elif monday.month != sunday.month:
        first = f"{monday.day} {monday:%B}"
    else:
        first = str(monday.day)
    return f"Monday {first} to Sunday {sunday.day} {sunday:%B %Y}"


def default_title(team: Team, monday: date) -> str:
    return f"{team.name}: week of {monday.day} {monday:%B %Y}"


def _day(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def _short(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


# --- Markdown -------------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]])")


def _md(text: str) -> str:
    """People's and datasets' words inside the draft's Markdown, read as words: no emphasis,
    no links, no tags (a `<` becomes an entity, which the page and the feed show as `<`)."""
    text = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("<", "&lt;")


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _link(text: str, path: str | None) -> str:
    if not path:
        return _md(text)
    url = _absolute(path).replace("(", "%28").replace(")", "%29").replace(" ", "%20")
    return f"[{_md(text)}]({url})"


# --- who the draft is for -------------------------------------------------------------------


def members(team: Team) -> list[User]:
    """Everyone on the team, in any role (inactive people too: the draft stays within what
    they may see, which can only make it more careful)."""
    from civicloop.accounts.models import User

    return list(User.objects.filter(memberships__team=team).select_related("organization"))


def _suppresses(metric: Metric) -> bool:
    version = metric.current_version
    if version is None:
        return False
    definition = version.parsed()
    return bool(definition.suppress_below and counts_people(definition))


def metrics_seen_by_all(metrics: list[Metric], people: list[User]) -> set[int]:
    """Of these metrics, those whose numbers every one of these people may see: each may see
    the metric, and none sees it only as the public does with small counts hidden (the rule of
    okrs.api.sees_metric_values, asked of the whole team at once). Nobody: nothing."""
    if not people:
        return set()
    ids = {m.pk for m in metrics}
    for person in people:
        if not ids:
            break
        ids &= set(
            Metric.objects.visible_to(person).filter(pk__in=ids).values_list("pk", flat=True)
        )
    for metric in metrics:
        # Small counts are hidden from someone who sees the metric only because it is public.
        if (
            metric.pk in ids
            and _suppresses(metric)
            and any(sees_only_public(metric, person) for person in people)
        ):
            ids.discard(metric.pk)
    return ids


def datasets_seen_by_all(dataset_ids: set[int], people: list[User]) -> set[int]:
    if not people:
        return set()
    ids = set(dataset_ids)
    for person in people:
        if not ids:
            break
        ids &= set(
            Dataset.objects.visible_to(person).filter(pk__in=ids).values_list("pk", flat=True)
        )
    return ids


@dataclass
class Audience:
    """What every member of the team may see, worked out once per draft."""

    people: list[User]
    metrics: list[Metric]  # the team's metrics (with a definition), every one
    seen_metrics: set[int] = field(default_factory=set)
    seen_datasets: set[int] = field(default_factory=set)

    def sees(self, metric_id: int | None) -> bool:
        return metric_id is None or metric_id in self.seen_metrics

    def add_metrics(self, others: list[Metric]) -> None:
        """Judge more metrics (key results' and A3 entries' of other teams) for everyone."""
        unknown = [m for m in others if m.pk not in self.seen_metrics]
        self.seen_metrics |= metrics_seen_by_all(unknown, self.people)


def audience(team: Team) -> Audience:
    latest = SeriesRun.objects.filter(metric=OuterRef("pk")).order_by("-computed_at", "-pk")
    metrics = list(
        Metric.objects.filter(team=team)
        .exclude(current_version=None)
        .select_related("current_version", "dataset", "team")
        .annotate(latest_run_id=Subquery(latest.values("pk")[:1]))
        .order_by("name")
    )
    people = members(team)
    datasets = {m.dataset_id for m in metrics} | {
        m.population_dataset_id for m in metrics if m.population_dataset_id
    }
    return Audience(
        people,
        metrics,
        metrics_seen_by_all(metrics, people),
        datasets_seen_by_all(datasets, people),
    )


# --- the facts ------------------------------------------------------------------------------


def _points_known_by(periods: list[str], grain: Any, day: date) -> int:
    """How many of the series' periods had ended by `day` (periods are in order)."""
    count = 0
    for period in periods:
        if period_last_day(date.fromisoformat(period), grain) > day:
            break
        count += 1
    return count


def _why(sentence: str) -> str:
    """The reason part of an SPC sentence, as a clause: "8 weeks in a row above the average"."""
    _, _, rest = sentence.partition(": ")
    rest = (rest or sentence).strip()
    if rest.lower().startswith("no signal. "):
        rest = rest[len("no signal. ") :]
    rest = rest.rstrip(".")
    if len(rest) > 1 and rest[0].isupper() and rest[1].islower():
        rest = rest[0].lower() + rest[1:]
    return rest


def _signal_sentence(
    before: str | None, after: str | None, why: str
) -> tuple[SignalChange, str] | None:
    """(change, words) when the reading moved into or out of a special cause, else None."""
    was = VARIATION_PHRASES.get(before or "")
    now = VARIATION_PHRASES.get(after or "")
    if before == after or (was is None and now is None):
        return None
    # "(8 weeks in a row above the average)"; a reason with brackets of its own follows a dash.
    why = f" — {why}" if "(" in why else f" ({why})"
    if was and now:
        return SignalChange.CHANGED, f"the {was} ended and a {now} appeared{why}"
    if now:
        return SignalChange.APPEARED, f"a {now} appeared{why}"
    return SignalChange.ENDED, f"the {was} ended{why}"


def signal_facts(seen: Audience, monday: date) -> list[dict[str, Any]]:
    """Each metric (every member may see its numbers) whose total's SPC reading moved into or
    out of a special cause between the periods complete by the week's start and those complete
    by its end. Read from the latest computation, so a correction to past data is read too."""
    metrics = [m for m in seen.metrics if m.pk in seen.seen_metrics and m.latest_run_id]  # type: ignore[attr-defined]
    series = {
        s.run_id: s
        for s in Series.objects.filter(
            run_id__in=[m.latest_run_id for m in metrics],  # type: ignore[attr-defined]
            breakdown="",
        )
    }
    before_day, after_day = monday - timedelta(days=1), monday + timedelta(days=6)
    # Per metric: the indexes of its two readings in `inputs` (None: no points before).
    jobs: list[tuple[Metric, int | None, int]] = []
    inputs: list[SeriesInput] = []

    def reading_of(total: Series, definition: Any, n: int) -> int:
        inputs.append(
            SeriesInput(
                definition,
                [date.fromisoformat(p) for p in total.periods[:n]],
                list(total.values[:n]),
                list(total.numerators[:n]) if total.numerators else (),
                list(total.denominators[:n]) if total.denominators else (),
            )
        )
        return len(inputs) - 1

    for metric in metrics:
        total = series.get(metric.latest_run_id)  # type: ignore[attr-defined]
        if total is None or not total.periods:
            continue
        definition = metric.definition()
        grain = definition.time.grain
        known_before = _points_known_by(total.periods, grain, before_day)
        known_after = _points_known_by(total.periods, grain, after_day)
        if known_after == known_before:
            continue  # no period of this metric ended in the week
        before = reading_of(total, definition, known_before) if known_before else None
        jobs.append((metric, before, reading_of(total, definition, known_after)))
    if not inputs:
        return []
    readings = analyse_series(inputs)
    facts = []
    for metric, before, after in jobs:
        before_code = readings[before].explanation.variation if before is not None else None
        explanation = readings[after].explanation
        said = _signal_sentence(
            before_code, explanation.variation, _why(explanation.variation_sentence)
        )
        if said is None:
            continue
        change, words = said
        facts.append(
            {
                "metric": metric.slug,
                "name": metric.name,
                "url": metric.get_absolute_url(),
                "before": before_code,
                "after": explanation.variation,
                "change": change.value,
                "text": f"{_link(metric.name, metric.get_absolute_url())}: {words}.",
            }
        )
    return facts


def data_facts(team: Team, seen: Audience, monday: date) -> list[dict[str, Any]]:
    """New versions of the datasets the team's metrics read (those every member may see)."""
    start, end = _window(monday)
    versions = (
        DatasetVersion.objects.filter(
            dataset_id__in=seen.seen_datasets, created_at__gte=start, created_at__lt=end
        )
        .select_related("dataset")
        .order_by("dataset__name", "created_at", "pk")
    )
    by_dataset: dict[int, list[DatasetVersion]] = {}
    for version in versions:
        by_dataset.setdefault(version.dataset_id, []).append(version)
    facts = []
    for loads in by_dataset.values():
        dataset, latest = loads[-1].dataset, loads[-1]
        when = _day(timezone.localdate(latest.created_at))
        rows = f"{latest.row_count:,} row{'s' if latest.row_count != 1 else ''}"
        held = sum(v.rows_quarantined for v in loads)
        held_text = (
            f"; {held:,} row{'s' if held != 1 else ''} held back by its checks" if held else ""
        )
        if len(loads) == 1:
            words = f"version {latest.number} loaded on {when} ({rows}{held_text})"
        else:
            words = (
                f"loaded {len(loads)} times, versions {loads[0].number} to {latest.number}; "
                f"the latest on {when} ({rows}{held_text})"
            )
        facts.append(
            {
                "dataset": dataset.slug,
                "name": dataset.name,
                "url": dataset.get_absolute_url(),
                "versions": [v.number for v in loads],
                "loaded_at": latest.created_at.isoformat(),
                "rows": latest.row_count,
                "held_back": held,
                "text": f"{_link(dataset.name, dataset.get_absolute_url())}: {words}.",
            }
        )
    return facts


def _field(change: Change, name: str) -> dict[str, str] | None:
    return next((d for d in change.changes if d.get("field") == name), None)


def key_result_facts(team: Team, seen: Audience, monday: date) -> list[dict[str, Any]]:
    """Key results of the team whose value, done or confidence changed in the week (from the
    first value the week started with to the last it ended with)."""
    start, end = _window(monday)
    changes = list(
        Change.objects.filter(
            key_result__team=team,
            action__in=(ChangeAction.CHECKED_IN, ChangeAction.REFRESHED),
            at__gte=start,
            at__lt=end,
        )
        .select_related("key_result__metric")
        .order_by("at", "pk")
    )
    by_kr: dict[int, list[Change]] = {}
    for change in changes:
        assert change.key_result_id is not None
        by_kr.setdefault(change.key_result_id, []).append(change)
    krs: dict[int, KeyResult] = {c.key_result_id: c.key_result for c in changes if c.key_result}  # type: ignore[misc]
    seen.add_metrics([kr.metric for kr in krs.values() if kr.metric is not None])
    facts = []
    for kr_id, entries in by_kr.items():
        kr = krs[kr_id]
        moved: list[str] = []
        withheld = not seen.sees(kr.metric_id)
        for name, label in (("value", "value"), ("done", "done"), ("confidence", "confidence")):
            found = [d for d in (_field(c, name) for c in entries) if d]
            if not found or found[0]["before"] == found[-1]["after"]:
                continue
            if name == "value" and withheld:
                moved.append("its value moved with the data it tracks")
            else:
                first, last = found[0]["before"], found[-1]["after"]
                if name == "confidence":
                    first, last = first.lower(), last.lower()
                moved.append(
                    f"{label} now {_md(last)}"
                    if first == "—"
                    else f"{label} {_md(first)} → {_md(last)}"
                )
        if not moved:
            continue
        by = (
            "from the data"
            if all(c.action == ChangeAction.REFRESHED for c in entries)
            else "at a check-in"
        )
        facts.append(
            {
                "key_result": kr.pk,
                "title": kr.title,
                "url": kr.get_absolute_url(),
                "withheld": withheld,
                "text": f"{_link(kr.title, kr.get_absolute_url())}: {'; '.join(moved)} ({by}).",
            }
        )
    return facts


def _meeting_path(action: Action) -> str | None:
    return action.meeting.get_absolute_url() if action.meeting is not None else None


def action_facts(team: Team, monday: date) -> list[dict[str, Any]]:
    start, end = _window(monday)
    sunday = monday + timedelta(days=6)
    opened = (
        Action.objects.filter(team=team, created_at__gte=start, created_at__lt=end)
        .select_related("owner", "meeting")
        .order_by("created_at", "pk")
    )
    closed = (
        Action.objects.filter(team=team)
        .filter(Q(done_on__range=(monday, sunday)) | Q(dropped_on__range=(monday, sunday)))
        .select_related("owner", "meeting")
        .order_by("done_on", "dropped_on", "pk")
    )
    facts = []
    for action in opened:
        facts.append(
            {
                "action": action.pk,
                "change": "opened",
                "text": f"Opened: {_link(action.text, _meeting_path(action))} "
                f"({_md(_name(action.owner))}, due {_short(action.due_on)}).",
            }
        )
    for action in closed:
        on = action.done_on or action.dropped_on
        assert on is not None
        change = action.status  # "done" or "dropped"
        label = change.capitalize()
        note = f" {_md(action.closing_note)}" if action.closing_note else ""
        facts.append(
            {
                "action": action.pk,
                "change": change,
                "text": f"{label}: {_link(action.text, _meeting_path(action))} "
                f"({_md(_name(action.owner))}, {change} on {_short(on)}).{note}",
            }
        )
    return facts


def _name(person: User) -> str:
    return person.full_name or person.email


def _a3_step(event: A3Event, hidden: bool) -> str | None:
    action = event.action
    if action in A3_QUIET_ACTIONS:
        return None
    if action == "State":
        after = next((d["after"] for d in event.changes if d.get("field") == "state"), "")
        return f"moved to {_md(after.lower())}" if after else "state changed"
    if action == "Changed":
        fields = list(dict.fromkeys(d.get("field", "") for d in event.changes if d.get("field")))
        return f"changed its {_md(', '.join(fields))}" if fields else "changed"
    words = action if action.startswith("PDSA") else action[0].lower() + action[1:]
    if hidden:
        return f"{words} (about a metric not everyone on the team may see)"
    if event.subject and event.subject != event.a3.title:
        return f"{words}: {_md(event.subject)}"
    return words


def a3_facts(team: Team, seen: Audience, monday: date) -> list[dict[str, Any]]:
    """One fact per A3 of the team with steps in the week, its steps in order."""
    start, end = _window(monday)
    events = list(
        A3Event.objects.filter(a3__team=team, at__gte=start, at__lt=end)
        .select_related("a3", "metric")
        .order_by("at", "pk")
    )
    seen.add_metrics([e.metric for e in events if e.metric is not None])
    steps: dict[int, list[str]] = {}
    a3s = {}
    for event in events:
        words = _a3_step(event, not seen.sees(event.metric_id))
        if words is None:
            continue
        a3s[event.a3_id] = event.a3
        listed = steps.setdefault(event.a3_id, [])
        if words not in listed:
            listed.append(words)
    facts = []
    for a3_id, listed in steps.items():
        a3 = a3s[a3_id]
        shown = listed[:A3_STEPS_SHOWN]
        more = len(listed) - len(shown)
        tail = f"; and {more} more step{'s' if more != 1 else ''}" if more else ""
        facts.append(
            {
                "a3": a3.pk,
                "title": a3.title,
                "url": a3.get_absolute_url(),
                "steps": listed,
                "text": f"{_link(a3.title, a3.get_absolute_url())}: {'; '.join(shown)}{tail}.",
            }
        )
    return facts


def gather_facts(team: Team, monday: date) -> dict[str, Any]:
    """Every fact of the week, as plain data (kept on the weeknote, shown by its JSON twin)."""
    seen = audience(team)
    return {
        "week": monday.isoformat(),
        "week_end": (monday + timedelta(days=6)).isoformat(),
        "audience": "what every member of the team may see",
        "members": len(seen.people),
        "signals": signal_facts(seen, monday),
        "key_results": key_result_facts(team, seen, monday),
        "actions": action_facts(team, monday),
        "a3s": a3_facts(team, seen, monday),
        "data": data_facts(team, seen, monday),
    }


def write_draft(team: Team, monday: date, facts: dict[str, Any]) -> str:
    """The facts as Markdown a person can edit: a heading per kind that has something, one
    bullet per fact, and a line for the kinds that had nothing."""
    lines = [f"What changed for {_md(team.name)} from {week_label(monday)}.", ""]
    quiet = []
    for key, heading, nothing in KINDS:
        items = facts.get(key) or []
        if not items:
            quiet.append(nothing)
            continue
        lines += [f"## {heading}", ""]
        lines += [f"- {item['text']}" for item in items]
        lines.append("")
    if len(quiet) == len(KINDS):
        lines.append(
            "Nothing changed this week that civicloop can see: "
            + _sentence_list(quiet)
            + ". Add what the team did, learned or decided."
        )
    elif quiet:
        lines.append(f"Otherwise {_sentence_list(quiet)}.")
    return "\n".join(lines).rstrip() + "\n"


def _sentence_list(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# --- drafting -------------------------------------------------------------------------------


def _check_week(week_monday: date, today: date) -> None:
    if week_monday.weekday() != 0:
        raise WeeknoteError.one(
            "week", f"A weeknote's week starts on a Monday; {_day(week_monday)} is not one."
        )
    if week_monday > today:
        raise WeeknoteError.one(
            "week",
            f"The week of {_short(week_monday)} has not started yet: draft it once it has.",
        )


def _edits(team: Team, user: User, doing: str) -> None:
    if not team.can_edit(user):
        raise NotAllowed(f"Only the leads and members of {team.name} {doing}.")


def is_edited(weeknote: Weeknote) -> bool:
    """Whether a person has changed the body from what the product drafted."""
    return weeknote.body.strip() != weeknote.drafted.strip()


def has_newer_draft(weeknote: Weeknote) -> bool:
    """A person edited the body, and the product has drafted something different since."""
    if weeknote.is_published or not is_edited(weeknote):
        return False
    changed = weeknote.facts.get("draft_changed_at") if weeknote.facts else None
    return bool(changed and datetime.fromisoformat(changed) > weeknote.updated_at)


def draft_weeknote(team: Team, week_monday: date, *, by: User | None = None) -> Weeknote:
    """Create the team's weeknote for the week starting `week_monday` from what changed, or
    draft an unpublished one again. A body a person edited is kept (only `drafted` and
    `facts` are refreshed); a published weeknote is returned as it is. `by`: who asked (the
    worker: nobody); they must be one of the team's leads or members."""
    if by is not None:
        _edits(team, by, "draft its weeknotes")
    _check_week(week_monday, timezone.localdate())
    existing = Weeknote.objects.filter(team=team, week=week_monday).first()
    if existing is not None and existing.is_published:
        return existing
    now = timezone.now()
    facts = gather_facts(team, week_monday)
    drafted = write_draft(team, week_monday, facts)
    facts["drafted_at"] = now.isoformat()
    with transaction.atomic():
        weeknote = Weeknote.objects.select_for_update().filter(team=team, week=week_monday).first()
        if weeknote is None:
            try:
                with transaction.atomic():
                    return Weeknote.objects.create(
                        team=team,
                        week=week_monday,
                        title=default_title(team, week_monday),
                        body=drafted,
                        drafted=drafted,
                        facts={**facts, "draft_changed_at": now.isoformat()},
                        updated_at=now,
                    )
            except IntegrityError:  # drafted at the same moment elsewhere: refresh that one
                weeknote = Weeknote.objects.select_for_update().get(team=team, week=week_monday)
        if weeknote.is_published:
            return weeknote
        changed = drafted != weeknote.drafted
        previous = (weeknote.facts or {}).get("draft_changed_at")
        facts["draft_changed_at"] = now.isoformat() if changed or not previous else previous
        fields = ["drafted", "facts"]
        if not is_edited(weeknote):
            weeknote.body = drafted
            fields.append("body")
            if changed:
                weeknote.updated_at = now
                fields.append("updated_at")
        weeknote.drafted = drafted
        weeknote.facts = facts
        weeknote.save(update_fields=fields)
    return weeknote


def weekly_drafts(today: date | None = None) -> int:
    """On Mondays, draft last week's weeknote for every team with people that has none yet.
    Safe to call every minute (a week already drafted is left alone). Returns how many were
    drafted."""
    today = today or timezone.localdate()
    if today.weekday() != 0:
        return 0
    week = today - timedelta(days=7)
    teams = (
        Team.objects.filter(memberships__isnull=False)
        .exclude(weeknotes__week=week)
        .distinct()
        .order_by("name")
    )
    made = 0
    for team in teams:
        try:
            draft_weeknote(team, week)
        except Exception:  # one team's trouble must not stop the others' drafts
            log.exception("drafting %s's weeknote for %s failed", team.slug, week)
        else:
            made += 1
    return made


# --- editing --------------------------------------------------------------------------------


def edit_weeknote(weeknote: Weeknote, user: User, title: str, body: str) -> Weeknote:
    """Save a person's title and body (checked; nothing saved when a check fails)."""
    _edits(weeknote.team, user, "write its weeknotes")
    if weeknote.is_published:
        raise WeeknoteError.one("", published_sentence(weeknote))
    title = " ".join((title or "").split())
    body = (body or "").replace("\r\n", "\n").strip()
    problems: list[tuple[str, str]] = []
    if not title:
        problems.append(("title", "Give the weeknote a title, e.g. “Bins back on time”."))
    elif len(title) > TITLE_MAX:
        problems.append(
            ("title", f"The title has {len(title)} characters; keep it to {TITLE_MAX}.")
        )
    if not body:
        problems.append(("body", "Write the weeknote: the body is empty."))
    elif len(body) > BODY_MAX:
        problems.append(
            ("body", f"The body has {len(body):,} characters; keep it under {BODY_MAX:,}.")
        )
    if problems:
        raise WeeknoteError(problems)
    weeknote.title = title
    weeknote.body = body + "\n"
    weeknote.edited_by = user
    weeknote.updated_at = timezone.now()
    weeknote.save(update_fields=["title", "body", "edited_by", "updated_at"])
    return weeknote


def take_newer_draft(weeknote: Weeknote, user: User) -> Weeknote:
    """Replace the person's body with what the product drafted last (the title stays)."""
    _edits(weeknote.team, user, "write its weeknotes")
    if weeknote.is_published:
        raise WeeknoteError.one("", published_sentence(weeknote))
    weeknote.body = weeknote.drafted
    weeknote.edited_by = user
    weeknote.updated_at = timezone.now()
    weeknote.save(update_fields=["body", "edited_by", "updated_at"])
    return weeknote


def published_sentence(weeknote: Weeknote) -> str:
    when = timezone.localdate(weeknote.published_at) if weeknote.published_at else None
    on = f" on {_short(when)}" if when else ""
    return f"“{weeknote.title}” was published{on}: it is a record now, and nothing on it changes."


# --- publishing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    weeknote: Weeknote
    emailed: list[str]
    email_failed: bool = False


def recipients(team: Team) -> list[User]:
    """Everyone on the team who can sign in and has an email address."""
    from civicloop.accounts.models import User

    return list(
        User.objects.filter(memberships__team=team, is_active=True)
        .exclude(email="")
        .distinct()
        .order_by("full_name", "pk")
    )


def publish_weeknote(weeknote: Weeknote, user: User) -> Published:
    """Publish the weeknote (once: a second press finds it published) and email the digest to
    everyone on the team; the count is kept on the weeknote."""
    team = weeknote.team
    _edits(team, user, "publish its weeknotes")
    if not weeknote.title.strip() or not weeknote.body.strip():
        raise WeeknoteError.one("", "Give the weeknote a title and a body before publishing.")
    now = timezone.now()
    # One UPDATE that only a draft matches: two presses at once send one digest.
    updated = Weeknote.objects.filter(pk=weeknote.pk, state=WeeknoteState.DRAFT).update(
        state=WeeknoteState.PUBLISHED, published_at=now, published_by=user
    )
    weeknote.refresh_from_db()
    if not updated:
        raise WeeknoteError.one("", published_sentence(weeknote))
    try:
        emailed = send_digest(weeknote)
    except Exception:  # published all the same; the page says the email did not go
        log.exception("emailing weeknote %s failed", weeknote.pk)
        return Published(weeknote, [], email_failed=True)
    Weeknote.objects.filter(pk=weeknote.pk).update(emailed_to=len(emailed))
    weeknote.emailed_to = len(emailed)
    return Published(weeknote, emailed)


def email_context(weeknote: Weeknote) -> dict[str, Any]:
    return {
        "weeknote": weeknote,
        "team": weeknote.team,
        "week": week_label(weeknote.week),
        "url": _absolute(weeknote.get_absolute_url()),
        "list_url": _absolute(
            reverse("meetings:weeknote_list", kwargs={"slug": weeknote.team.slug})
        ),
    }


def send_digest(weeknote: Weeknote) -> list[str]:
    """One email per person (so partners' addresses are not shared with each other), plain
    text with an HTML alternative. Returns the addresses."""
    people = recipients(weeknote.team)
    if not people:
        return []
    context = email_context(weeknote)
    text = render_to_string("meetings/weeknote_email.txt", context)
    html = render_to_string("meetings/weeknote_email.html", context)
    subject = weeknote.title
    if not subject.startswith(weeknote.team.name):
        subject = f"{weeknote.team.name} weeknote: {subject}"
    messages = []
    for person in people:
        message = EmailMultiAlternatives(subject=subject, body=text, to=[person.email])
        message.attach_alternative(html, "text/html")
        messages.append(message)
    get_connection().send_messages(messages)
    return [p.email for p in people]


# --- the feed -------------------------------------------------------------------------------


def feed_token(user: User, team: Team) -> str:
    """A token for one person's feed of one team, for readers that cannot sign in. It names
    the person, so it stops working the moment they leave the team."""
    return signing.dumps({"u": user.pk, "t": team.pk}, salt=FEED_SALT)


def feed_reader(token: str, team: Team) -> User | None:
    """The person a feed token was made for, if it is genuine, for this team, and they are
    still on the team and may sign in (checked now, not when the token was made)."""
    from civicloop.accounts.models import User

    try:
        data = signing.loads(token, salt=FEED_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("t") != team.pk or not isinstance(data.get("u"), int):
        return None
    person = User.objects.filter(pk=data["u"], is_active=True).first()
    if person is None or team.role_of(person) is None:
        return None
    return person


def feed_url(user: User, team: Team) -> str:
    path = reverse("meetings:weeknote_feed", kwargs={"slug": team.slug})
    return _absolute(f"{path}?{urlencode({'token': feed_token(user, team)})}")


def feed_xml(team: Team) -> str:
    """RSS 2.0 of the team's published weeknotes, newest first; the body as sanitised HTML,
    which the feed generator escapes inside each description."""
    feed = feedgenerator.Rss201rev2Feed(
        title=f"{team.name} weeknotes",
        link=_absolute(reverse("meetings:weeknote_list", kwargs={"slug": team.slug})),
        description=f"What changed each week for {team.name}.",
        language="en",
    )
    published = (
        Weeknote.objects.filter(team=team, state=WeeknoteState.PUBLISHED)
        .select_related("published_by")
        .order_by("-published_at", "-pk")[:FEED_ITEMS]
    )
    for weeknote in published:
        link = _absolute(weeknote.get_absolute_url())
        feed.add_item(
            title=weeknote.title,
            link=link,
            description=render_markdown(weeknote.body),
            unique_id=link,
            unique_id_is_permalink=True,
            pubdate=weeknote.published_at,
            author_name=weeknote.published_by.full_name if weeknote.published_by else None,
        )
    return feed.writeString("utf-8")


# --- pages' data ----------------------------------------------------------------------------


def weeknote_row(weeknote: Weeknote) -> dict[str, Any]:
    return {
        "id": weeknote.pk,
        "week": weeknote.week.isoformat(),
        "week_end": weeknote.week_end.isoformat(),
        "week_text": week_label(weeknote.week),
        "title": weeknote.title,
        "state": weeknote.state,
        "state_text": weeknote.get_state_display(),
        "published_at": weeknote.published_at.isoformat() if weeknote.published_at else None,
        "published_text": (
            _short(timezone.localdate(weeknote.published_at)) if weeknote.published_at else None
        ),
        "emailed_to": weeknote.emailed_to,
        "url": weeknote.get_absolute_url(),
    }


def list_data(team: Team, user: User) -> dict[str, Any]:
    """The team's weeknotes this person may read: published ones, and drafts for editors."""
    weeknotes = Weeknote.objects.filter(team=team)
    can_edit = team.can_edit(user)
    if not can_edit:
        weeknotes = weeknotes.filter(state=WeeknoteState.PUBLISHED)
    return {
        "team": {"slug": team.slug, "name": team.name, "url": team.get_absolute_url()},
        "weeknotes": [weeknote_row(w) for w in weeknotes.order_by("-week")],
        "feed": reverse("meetings:weeknote_feed", kwargs={"slug": team.slug}),
        "can_edit": can_edit,
    }


def detail_data(weeknote: Weeknote) -> dict[str, Any]:
    return {
        **weeknote_row(weeknote),
        "team": {"slug": weeknote.team.slug, "name": weeknote.team.name},
        "body": weeknote.body,
        "body_html": render_markdown(weeknote.body),
        "drafted": weeknote.drafted,
        "edited": is_edited(weeknote),
        "newer_draft": has_newer_draft(weeknote),
        "edited_by": weeknote.edited_by.full_name if weeknote.edited_by else None,
        "published_by": weeknote.published_by.full_name if weeknote.published_by else None,
        "facts": weeknote.facts,
    }
