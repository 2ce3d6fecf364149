"""The sentences that say what a chart's icons mean, in words a meeting can read aloud.

"Special cause of concern: 7 weeks in a row above the average." Pure: no Django.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from civicloop.spc.analysis import SpcResult
from civicloop.spc.constants import RELATIVE_TOLERANCE

VARIATION_WORDS: dict[str | None, str] = {
    None: "No data",
    "common_cause": "Common cause variation",
    "special_cause_improvement": "Special cause of improvement",
    "special_cause_concern": "Special cause of concern",
    "special_cause_neutral_high": "Special cause (high)",
    "special_cause_neutral_low": "Special cause (low)",
}
#: The same, short, for a table's column of point types.
POINT_WORDS: dict[str | None, str] = {
    None: "",
    "common_cause": "Common cause",
    "special_cause_improvement": "Improvement",
    "special_cause_concern": "Concern",
    "special_cause_neutral_high": "High",
    "special_cause_neutral_low": "Low",
}
ASSURANCE_WORDS: dict[str | None, str] = {
    None: "No target to assure",
    "consistent_pass": "Consistently passes the target",
    "consistent_fail": "Consistently fails the target",
    "inconsistent": "Hit and miss",
}


@dataclass(frozen=True)
class Explanation:
    variation: str | None
    variation_label: str
    variation_sentence: str
    assurance: str | None
    assurance_label: str
    assurance_sentence: str | None


def number(value: float, decimals: int | None = None) -> str:
    """A figure as a reader wants it: thousands separated, no trailing noise."""
    if decimals is None:
        magnitude = abs(value)
        decimals = 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2
    text = f"{value:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _known_in_group(result: SpcResult, last: int) -> list[int]:
    """Indexes of the known points of the last point's group, up to and including it."""
    group = result.group_ids[last]
    return [
        i for i in range(last + 1) if result.group_ids[i] == group and not math.isnan(result.y[i])
    ]


def _slack(result: SpcResult, points: list[int]) -> float:
    return RELATIVE_TOLERANCE * max(abs(float(result.y[i])) for i in points)


def _side(result: SpcResult, i: int, slack: float) -> int:
    difference = float(result.y[i] - result.mean[i])
    return 1 if difference > slack else -1 if difference < -slack else 0


def _side_run(result: SpcResult, last: int, skip_centre: bool = False) -> int:
    """How many points in a row, up to the last, lie on its side of the centre line (points on
    a run chart's median are passed over, as the Anhøj rules do)."""
    points = _known_in_group(result, last)
    slack = _slack(result, points)
    side = _side(result, last, slack)
    count = 0
    for i in reversed(points):
        here = _side(result, i, slack)
        if here == 0 and skip_centre:
            continue
        if here != side:
            break
        count += 1
    return count


def _trend_run(result: SpcResult, last: int) -> int:
    """How many points in a row, up to the last, each rise (or fall) from the one before."""
    points = _known_in_group(result, last)
    slack = _slack(result, points)
    direction = 0
    count = 1
    for before, after in zip(reversed(points[:-1]), reversed(points[1:]), strict=True):
        step = float(result.y[after] - result.y[before])
        sign = 1 if step > slack else -1 if step < -slack else 0
        if sign == 0 or (direction and sign != direction):
            break
        direction = sign
        count += 1
    return count


def _near_count(result: SpcResult, last: int, high: bool) -> int:
    """How many of the last three points lie beyond the near-limit line on that side."""
    points = _known_in_group(result, last)[-3:]
    slack = _slack(result, points)
    if high:
        return sum(1 for i in points if result.y[i] - result.nupl[i] > slack)
    return sum(1 for i in points if result.nlpl[i] - result.y[i] > slack)


def explain(
    result: SpcResult, *, grain: str = "week", decimals: int | None = None, unit: str = ""
) -> Explanation:
    """Sentences for the variation icon (from the last point) and the assurance icon."""
    last = result.last_index()
    variation = result.variation
    label = VARIATION_WORDS[variation]
    suffix = f" {unit}" if unit and unit not in ("%",) else unit

    def fmt(value: float) -> str:
        return f"{number(value, decimals)}{suffix}"

    if last is None:
        sentence = "No data yet, so nothing to judge."
    elif variation == "common_cause":
        if result.chart == "run":
            signals = result.run_signals[-1] if result.run_signals else None
            if signals is not None and signals.long_run:
                sentence = (
                    f"{label} at the latest {grain}, but earlier {signals.longest_run} {grain}s "
                    f"in a row ran on one side of the median, more than chance allows (at most "
                    f"{signals.longest_run_max}): the process may have shifted."
                )
            elif signals is not None and signals.few_crossings:
                sentence = (
                    f"{label} point by point, but the series crosses its median fewer times "
                    f"than chance allows ({signals.crossings}, at least {signals.crossings_min} "
                    "expected): the process may have shifted."
                )
            else:
                sentence = (
                    f"{label}: no run of {grain}s above or below the median longer than chance "
                    "allows, and no shortage of crossings."
                )
        elif math.isnan(result.upl[last]):
            sentence = f"{label}: too few points for limits; add more data."
        else:
            sentence = (
                f"{label}: no signal. The latest {grain} ({fmt(result.y[last])}) is within the "
                f"usual range of {fmt(result.lpl[last])} to {fmt(result.upl[last])}."
            )
    else:
        rule = result.rules[last]
        high = variation in ("special_cause_neutral_high",) or (
            variation == "special_cause_improvement" and result.direction == "increase"
        )
        high = high or (variation == "special_cause_concern" and result.direction == "decrease")
        centre = "median" if result.chart == "run" else "average"
        if rule == "outside_limits":
            where = "above the upper" if high else "below the lower"
            limit = result.upl[last] if high else result.lpl[last]
            sentence = (
                f"{label}: the latest {grain} ({fmt(result.y[last])}) is {where} process "
                f"limit ({fmt(limit)})."
            )
        elif rule == "trend":
            moving = "rising" if high else "falling"
            sentence = f"{label}: {moving} for {_plural(_trend_run(result, last), grain)} in a row."
        elif rule == "two_in_three":
            where = "upper" if high else "lower"
            near = _near_count(result, last, high)
            sentence = (
                f"{label}: {near} of the last 3 {grain}s are close to the {where} process limit."
            )
        else:  # shift, or a long run on a run chart
            count = _side_run(result, last, skip_centre=result.chart == "run")
            side = "above" if high else "below"
            sentence = f"{label}: {_plural(count, grain)} in a row {side} the {centre}."

    assurance = result.assurance
    a_label = ASSURANCE_WORDS[assurance]
    a_sentence: str | None = None
    if assurance is not None and result.target is not None and last is not None:
        target = fmt(result.target)
        lpl, upl = fmt(result.lpl[last]), fmt(result.upl[last])
        if assurance == "inconsistent":
            a_sentence = (
                f"{a_label}: the target ({target}) lies within the process limits ({lpl} to "
                f"{upl}), so it will be met in some {grain}s and missed in others."
            )
        else:
            beyond = (
                f"above the upper process limit ({upl})"
                if result.target > result.upl[last]
                else f"below the lower process limit ({lpl})"
            )
            if assurance == "consistent_pass":
                a_sentence = (
                    f"{a_label}: the target ({target}) lies {beyond}, so the process will meet "
                    "it reliably unless something changes."
                )
            else:
                a_sentence = (
                    f"{a_label}: the target ({target}) lies {beyond}, so it will not be met "
                    "without a change to the process."
                )
    elif result.target is not None and result.direction == "neutral":
        a_sentence = "No assurance: with no better direction, a target cannot be passed or failed."
    return Explanation(variation, label, sentence, assurance, a_label, a_sentence)
