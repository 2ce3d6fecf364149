"""The sentences that say what a chart's icons mean, in words a meeting can read aloud.

"Special cause of concern: 7 weeks in a row above the average." Pure: no Django.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from civicloop.spc.analysis import SpcResult

VARIATION_WORDS: dict[str | None, str] = {
    None: "No data",
    "common_cause": "Common cause variation",
    "special_cause_improvement": "Special cause of improvement",
    "special_cause_concern": "Special cause of concern",
    "special_cause_neutral_high": "Special cause (high)",
    "special_cause_neutral_low": "Special cause (low)",
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


def _run_back(result: SpcResult, last: int, rule: str) -> int:
    """How many points, back from the last, share its rule and group (its run's length)."""
    rules = result.rules
    groups = result.groups
    count = 0
    for i in range(last, -1, -1):
        if math.isnan(result.y[i]):
            continue
        if rules[i] != rule or groups[i] != groups[last]:
            break
        count += 1
    return count


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
            sentence = (
                f"{label}: no run of {grain}s above or below the median longer than chance "
                "allows, and no shortage of crossings."
            )
            if any(s.few_crossings for s in result.run_signals[-1:]):
                sentence = (
                    f"{label} point by point, but the series crosses its median fewer times "
                    "than chance allows: the process may have shifted."
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
            count = _run_back(result, last, "trend")
            moving = "rising" if high else "falling"
            sentence = f"{label}: {_plural(count, grain)} in a row {moving}."
        elif rule == "two_in_three":
            where = "upper" if high else "lower"
            sentence = f"{label}: 2 of the last 3 {grain}s are close to the {where} process limit."
        else:  # shift, or a long run on a run chart
            count = _run_back(result, last, rule or "shift")
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
