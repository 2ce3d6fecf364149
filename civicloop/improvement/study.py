"""The Study step of a PDSA cycle: did the change shift the measure, in the predicted direction?

A change is judged on the metric's own chart, never on two numbers before and after (DOMAIN §3):

1. The points before the change (back to the metric's last rebase before it) set the limits:
   the mean and process limits of the process as it was, extended over the points since.
2. The SPC rules (a point beyond a limit, a trend, two of three near a limit, a shift of 7 on one
   side of the mean) are read on the points since the change, in the direction the team
   predicted. Sustained special cause that way (a shift or a trend, two or more points beyond
   a limit, or three or more flagged points) is evidence the change worked; sustained special
   cause the other way, that it made things worse. A single flagged point is a one-off, named
   but not a verdict. Without sustained special cause, 7 or more points since the change say
   the chart sees no difference; fewer are "too soon to tell". (A run that began just before
   the change also flags the points after it.)
3. The chart is drawn rebased at the change date, so the new process's own mean and limits show
   where it settled; the new mean is compared with the predicted value, if one was given.

A pilot limited to one breakdown value is judged the same way, and so is the rest (every other
value together): a shift in the pilot and none in the rest points at the change rather than at
something that moved everywhere (a season, a new system).

Pure data in, plain data out: no Django here, so the rules are tested on their own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from civicloop.metrics.definition import Direction, MetricDefinition, Rebase
from civicloop.metrics.periods import period_last_day
from civicloop.metrics.spc import SeriesInput, analyse_one
from civicloop.spc import SpcResult
from civicloop.spc.constants import MIN_RELIABLE_POINTS
from civicloop.spc.describe import number

SHIFT_POINTS = 7  # a shift or a trend needs 7 points; fewer can only show a point beyond a limit

RULE_WORDS = {
    "outside_limits": "a point beyond the process limit",
    "trend": "a trend of 7 points",
    "two_in_three": "two of three points near the limit",
    "shift": "a shift: 7 or more points on one side of the old mean",
}
# Most convincing first, when several rules fired.
RULE_ORDER = ("shift", "outside_limits", "trend", "two_in_three")

PREDICTED = "predicted"  # special cause in the predicted direction
AGAINST = "against"  # special cause the other way
NO_SIGNAL = "none"  # enough points since the change, no special cause
TOO_SOON = "too_soon"  # fewer than 7 points since the change, no point beyond a limit
NO_DATA = "no_data"  # no points since the change yet
NO_BASELINE = "no_baseline"  # fewer than 2 points before the change

SIGNAL_LABELS = {
    PREDICTED: "Special cause in the predicted direction",
    AGAINST: "Special cause against the prediction",
    NO_SIGNAL: "No special cause: the chart shows no change",
    TOO_SOON: "Too soon to tell",
    NO_DATA: "No data since the change yet",
    NO_BASELINE: "Not enough data before the change",
}


@dataclass(frozen=True)
class SeriesData:
    label: str  # "District 3", "Rest (districts 1, 2, 4, 5)", "Total"
    periods: Sequence[date]
    values: Sequence[float | None]
    numerators: Sequence[float | None] = ()
    denominators: Sequence[float | None] = ()
    # The series' breakdown value ("" for the total or the rest): a rebase scoped to one
    # value applies to that value's series only.
    breakdown: str = ""
    value: str = ""


@dataclass(frozen=True)
class Judgement:
    """One series judged at the change date."""

    label: str
    signal: str
    sentence: str
    before_points: int
    after_points: int
    before_mean: float | None
    after_mean: float | None
    rules: tuple[str, ...]
    first_signal: date | None
    periods: tuple[date, ...]  # from the start of the group before the change
    frozen: SpcResult | None  # judged against the limits from before the change
    rebased: SpcResult | None  # the same points, rebased at the change
    warnings: tuple[str, ...] = ()

    @property
    def change_percent(self) -> float | None:
        if self.before_mean is None or self.after_mean is None or self.before_mean == 0:
            return None
        return (self.after_mean - self.before_mean) / abs(self.before_mean) * 100


@dataclass(frozen=True)
class Verdict:
    change_on: date
    direction: str  # "decrease" or "increase": the prediction
    predicted_value: float | None
    unit: str
    decimals: int
    pilot: Judgement
    rest: Judgement | None = None
    headline: str = ""
    prediction_sentence: str = ""
    comparison_sentence: str = ""
    warnings: tuple[str, ...] = field(default=())
    label: str = ""  # the verdict in a few words, qualified when the rest moved as much

    def as_data(self) -> dict[str, Any]:
        """What is kept with the cycle: the verdict as it was when the team studied it."""
        return {
            "change_on": self.change_on.isoformat(),
            "direction": self.direction,
            "predicted_value": self.predicted_value,
            "signal": self.pilot.signal,
            "signal_label": self.label or SIGNAL_LABELS[self.pilot.signal],
            "headline": self.headline,
            "prediction_sentence": self.prediction_sentence,
            "comparison_sentence": self.comparison_sentence,
            "warnings": list(self.warnings),
            "series": [_judgement_data(j) for j in (self.pilot, self.rest) if j is not None],
        }


def _judgement_data(j: Judgement) -> dict[str, Any]:
    return {
        "label": j.label,
        "signal": j.signal,
        "signal_label": SIGNAL_LABELS[j.signal],
        "sentence": j.sentence,
        "before_points": j.before_points,
        "after_points": j.after_points,
        "before_mean": j.before_mean,
        "after_mean": j.after_mean,
        "change_percent": j.change_percent,
        "rules": list(j.rules),
        "first_signal": j.first_signal.isoformat() if j.first_signal else None,
    }


def _known(values: Sequence[float | None]) -> int:
    return sum(1 for v in values if v is not None and not (isinstance(v, float) and math.isnan(v)))


def _mean(result: SpcResult, index: int) -> float | None:
    value = float(result.mean[index])
    return None if math.isnan(value) else value


def _for_prediction(
    definition: MetricDefinition, direction: str, baseline: int
) -> MetricDefinition:
    """The definition judged the way the team predicted: improvement means their direction;
    the limits are fixed on the points before the change; no target, no rebases."""
    better = Direction.LOWER_IS_BETTER if direction == "decrease" else Direction.HIGHER_IS_BETTER
    chart = replace(definition.chart, baseline_points=baseline, rebases=())
    return definition.with_changes(direction=better, target=None, chart=chart)


def judge(
    definition: MetricDefinition,
    series: SeriesData,
    change_on: date,
    direction: str,
    *,
    as_of: date | None = None,
) -> Judgement:
    """Judge one series at the change date (see the module's description)."""
    if direction not in ("decrease", "increase"):
        raise ValueError(f"direction {direction!r}: give 'decrease' or 'increase'")
    periods = list(series.periods)
    grain = definition.time.grain
    # Cut at a date, a period counts once it is over (a week starting that day is not).
    cut = (
        len(periods)
        if as_of is None
        else sum(1 for p in periods if period_last_day(p, grain) <= as_of)
    )
    periods = periods[:cut]
    values = list(series.values)[:cut]
    nums = list(series.numerators)[:cut] if series.numerators else []
    dens = list(series.denominators)[:cut] if series.denominators else []
    change = next((i for i, p in enumerate(periods) if p >= change_on), len(periods))
    # The process before the change starts at the metric's last rebase before the change.
    start = 0
    for rebase in definition.chart.rebases:
        if rebase.on < change_on and rebase.applies_to(series.breakdown, series.value):
            index = next((i for i, p in enumerate(periods) if p >= rebase.on), None)
            if index is not None and index <= change:
                start = max(start, index)
    before = _known(values[start:change])
    after = _known(values[change:])
    unit, decimals = definition.unit, definition.decimals
    empty = Judgement(
        series.label, NO_DATA, "", before, after, None, None, (), None, (), None, None
    )
    if before < 2:
        return replace(
            empty,
            signal=NO_BASELINE,
            sentence=f"{series.label}: only {before} point(s) before the change, so there are no "
            "limits to judge the change against.",
        )
    item = SeriesInput(
        _for_prediction(definition, direction, before),
        periods[start:],
        values[start:],
        nums[start:] if nums else (),
        dens[start:] if dens else (),
    )
    frozen = analyse_one(item).result
    offset = change - start
    # The same points rebased at the change: the new process's own mean and limits.
    rebased_chart = replace(
        item.definition.chart, baseline_points=None, rebases=(Rebase(change_on, "the change"),)
    )
    rebased = (
        analyse_one(
            replace(item, definition=item.definition.with_changes(chart=rebased_chart))
        ).result
        if after
        else None
    )
    before_mean = _mean(frozen, 0)
    warnings: list[str] = []
    if before < MIN_RELIABLE_POINTS:
        warnings.append(
            f"{series.label}: the limits come from {before} points before the change; "
            f"{MIN_RELIABLE_POINTS} or more make them reliable."
        )
    unstable = sum(
        1
        for kind in frozen.types[:offset]
        if kind in ("special_cause_improvement", "special_cause_concern")
    )
    if unstable:
        warnings.append(
            f"{series.label}: the process before the change was not stable ({unstable} of "
            f"{before} points before it show special cause), so its limits, and the verdict "
            "read against them, are less reliable."
        )
    base = Judgement(
        series.label,
        NO_DATA,
        "",
        before,
        after,
        before_mean,
        None,
        (),
        None,
        tuple(periods[start:]),
        frozen,
        rebased,
        tuple(warnings),
    )
    if not after:
        return replace(
            base,
            sentence=f"{series.label}: no data since the change on {change_on:%d %b %Y} yet.",
        )
    after_mean = _mean(rebased, len(periods) - start - 1) if rebased is not None else None
    types = frozen.types[offset:]
    rules = frozen.rules[offset:]
    kinds = {"special_cause_improvement": PREDICTED, "special_cause_concern": AGAINST}
    seen: dict[str, list[tuple[int, str]]] = {PREDICTED: [], AGAINST: []}
    for i, (kind, rule) in enumerate(zip(types, rules, strict=True)):
        if kind in kinds and rule:
            seen[kinds[kind]].append((i, rule))
    grain_word = grain.value
    moved = _moved(before_mean, after_mean, unit, decimals)
    sides = [side for side in (PREDICTED, AGAINST) if _sustained(seen[side])]
    if sides:
        # Both ways (a dip, then a rise)? The side with the stronger evidence wins.
        signal = max(sides, key=lambda side: _weight(seen[side]))
        hits = seen[signal]
        found = tuple(r for r in RULE_ORDER if any(rule == r for _, rule in hits))
        first = periods[change + hits[0][0]]
        way = "down" if (direction == "decrease") == (signal == PREDICTED) else "up"
        sentence = (
            f"{series.label}: special cause {way} since the change. {len(hits)} of {after} "
            f"{grain_word}s are flagged ({_counted(hits)}), the first on {first:%d %b %Y}. {moved}."
        )
        return replace(
            base,
            signal=signal,
            sentence=sentence,
            after_mean=after_mean,
            rules=found,
            first_signal=first,
        )
    blips = sorted(seen[PREDICTED] + seen[AGAINST])
    aside = ""
    if blips:
        days = ", ".join(f"{periods[change + i]:%d %b %Y}" for i, _ in blips)
        aside = f" ({_plural(len(blips), 'point')} flagged, on {days}: a one-off, not a change)"
    if after < SHIFT_POINTS:
        sentence = (
            f"{series.label}: {_plural(after, grain_word)} since the change and no sustained "
            f"special cause{aside}; a shift needs {SHIFT_POINTS} points, so it is too soon to "
            f"tell. {moved}."
        )
        return replace(base, signal=TOO_SOON, sentence=sentence, after_mean=after_mean)
    sentence = (
        f"{series.label}: no sustained special cause in {after} {grain_word}s since the change"
        f"{aside}; the points vary around the old mean as before. {moved}."
    )
    return replace(base, signal=NO_SIGNAL, sentence=sentence, after_mean=after_mean)


COUNT_WORDS = {
    "outside_limits": "beyond the process limit",
    "shift": "in a run of 7 or more on one side of the old mean",
    "trend": "in a trend of 7",
    "two_in_three": "near the limit, 2 of 3",
}


def _counted(hits: list[tuple[int, str]]) -> str:
    counts = {rule: sum(1 for _, r in hits if r == rule) for rule in RULE_ORDER}
    return ", ".join(f"{n} {COUNT_WORDS[rule]}" for rule, n in counts.items() if n)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _sustained(hits: list[tuple[int, str]]) -> bool:
    """Evidence of a change, not a blip: a shift or a trend, two or more points beyond a limit,
    or three or more flagged points. One point beyond a limit is special cause, but one week
    cannot say a change worked."""
    rules = [rule for _, rule in hits]
    return (
        any(rule in ("shift", "trend") for rule in rules)
        or rules.count("outside_limits") >= 2
        or len(rules) >= 3
    )


def _weight(hits: list[tuple[int, str]]) -> tuple[int, int]:
    """Sustained evidence (a shift or trend) over single points; then the most points."""
    sustained = sum(1 for _, rule in hits if rule in ("shift", "trend"))
    return (sustained, len(hits))


def _moved(before: float | None, after: float | None, unit: str, decimals: int) -> str:
    if before is None or after is None:
        return "No mean to compare"
    suffix = f" {unit}" if unit and unit != "%" else unit
    old, new = number(before, decimals + 1), number(after, decimals + 1)
    text = f"Mean {old}{suffix} before, {new}{suffix} since"
    if before:
        percent = (after - before) / abs(before) * 100
        text += " (no change)" if round(percent) == 0 else f" ({percent:+.0f}%)"
    return text


def study(
    definition: MetricDefinition,
    pilot: SeriesData,
    change_on: date,
    direction: str,
    *,
    predicted_value: float | None = None,
    rest: SeriesData | None = None,
    as_of: date | None = None,
) -> Verdict:
    """The verdict on a cycle: the pilot (or the whole measure) and, for a pilot, the rest."""
    mine = judge(definition, pilot, change_on, direction, as_of=as_of)
    other = judge(definition, rest, change_on, direction, as_of=as_of) if rest else None
    unit, decimals = definition.unit, definition.decimals
    label = SIGNAL_LABELS[mine.signal]
    if (
        other is not None
        and mine.signal == PREDICTED
        and other.signal == PREDICTED
        and not _far_less(mine, other)
    ):
        label += ", but the rest moved as much"
    headline = f"{label}. {mine.sentence}"
    prediction = _prediction_sentence(mine, direction, predicted_value, unit, decimals)
    comparison = ""
    if other is not None and mine.signal == PREDICTED:
        comparison = _compare(mine, other, definition.time.grain.value)
    warnings = tuple(mine.warnings) + (tuple(other.warnings) if other else ())
    return Verdict(
        change_on,
        direction,
        predicted_value,
        unit,
        decimals,
        mine,
        other,
        headline,
        prediction,
        comparison,
        warnings,
        label,
    )


def _far_less(mine: Judgement, other: Judgement) -> bool:
    """The rest's mean moved less than half as much as the pilot's."""
    mine_pct, other_pct = mine.change_percent, other.change_percent
    return mine_pct is not None and other_pct is not None and abs(other_pct) < abs(mine_pct) / 2


def _compare(mine: Judgement, other: Judgement, grain: str) -> str:
    """Does the rest tell against the change (it moved as much without it)?"""
    if other.signal != PREDICTED:
        return (
            f"{other.label} shows no such shift over the same {grain}s, which points at the "
            "change rather than at something that moved everywhere."
        )
    mine_pct, other_pct = mine.change_percent, other.change_percent
    if mine_pct is not None and other_pct is not None and _far_less(mine, other):
        return (
            f"{other.label} moved the same way, but far less (mean {other_pct:+.0f}% against "
            f"{mine_pct:+.0f}%): the change explains most of the shift, and something else a "
            "little of it."
        )
    return (
        f"{other.label} moved the same way without the change, so something other than the "
        "change (a season, a new system) may explain the shift."
    )


def _prediction_sentence(
    j: Judgement, direction: str, predicted: float | None, unit: str, decimals: int
) -> str:
    way = "go down" if direction == "decrease" else "go up"
    if j.signal in (NO_DATA, NO_BASELINE):
        return f"The team predicted the measure would {way}; there is nothing to compare yet."
    said = {
        PREDICTED: f"The team predicted the measure would {way}, and it did.",
        AGAINST: f"The team predicted the measure would {way}; it went the other way.",
        NO_SIGNAL: f"The team predicted the measure would {way}; the chart shows no change.",
        TOO_SOON: f"The team predicted the measure would {way}; it is too soon to tell.",
    }[j.signal]
    if predicted is None or j.after_mean is None:
        return said
    suffix = f" {unit}" if unit and unit != "%" else unit
    new = number(j.after_mean, decimals + 1)
    aim = number(predicted, decimals + 1)
    reached = j.after_mean <= predicted if direction == "decrease" else j.after_mean >= predicted
    if reached:
        return (
            f"{said} It predicted a mean of {aim}{suffix}; the new mean is {new}{suffix}, "
            "as good or better."
        )
    gap = number(abs(j.after_mean - predicted), decimals + 1)
    if gap == "0":
        return f"{said} It predicted a mean of {aim}{suffix}, and the new mean is {new}{suffix}."
    return (
        f"{said} It predicted a mean of {aim}{suffix}; the new mean is {new}{suffix}, "
        f"{gap}{suffix} short of the prediction."
    )
