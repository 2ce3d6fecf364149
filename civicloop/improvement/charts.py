"""The charts an A3 shows: a metric's live SPC chart as of a date (the current condition), and
a PDSA cycle's Study chart (rebased at the change; a pilot beside the rest on one figure).

Charts are Vega-Lite specs drawn to SVG (pages) or PNG (the PDF) without a browser, through the
same cached renderer as the metric pages.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from civicloop.improvement import study as study_rules
from civicloop.improvement.services import series_label
from civicloop.metrics import spc as metric_spc
from civicloop.metrics.api import _suppressed_values, sees_only_public
from civicloop.metrics.models import Metric
from civicloop.metrics.periods import period_last_day
from civicloop.metrics.services import latest_run
from civicloop.metrics.spc import SeriesInput, analyse_one
from civicloop.spc import chart as spc_chart

if TYPE_CHECKING:
    from civicloop.accounts.models import User

WIDTH = 640
HEIGHT = 220


@dataclass(frozen=True)
class Drawn:
    spec: dict[str, Any]
    description: str  # the chart in words: its alt text
    sentences: tuple[str, ...] = ()

    @property
    def spec_json(self) -> str:
        return json.dumps(self.spec, allow_nan=False, sort_keys=True)

    def svg(self) -> str:
        return metric_spc.chart_svg(self.spec_json)

    def svg_data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg().encode()).decode()

    def png_data_uri(self) -> str:
        png = metric_spc.chart_png(self.spec_json)
        return "data:image/png;base64," + base64.b64encode(png).decode()


def metric_chart(
    metric: Metric,
    user: User,
    *,
    breakdown: str = "",
    value: str = "",
    as_of: date | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Drawn | None:
    """The metric's SPC chart for one series with the data up to `as_of` (None: all of it);
    None when it has no data yet. The caller checks the person may see the metric."""
    run = latest_run(metric)
    series = run.series.filter(breakdown=breakdown, value=value).first() if run else None
    if run is None or series is None or not series.periods:
        return None
    definition = run.metric_version.parsed()
    periods = [date.fromisoformat(p) for p in series.periods]
    values = list(series.values)
    hidden = bool(definition.suppress_below and sees_only_public(metric, user))
    if hidden:
        values = _suppressed_values(metric, definition, run, series)
    grain = definition.time.grain
    keep = (
        len(periods)
        if as_of is None
        else sum(1 for p in periods if period_last_day(p, grain) <= as_of)
    )
    if keep == 0:
        return None
    periods, values = periods[:keep], values[:keep]
    parts = not hidden and bool(series.numerators)
    spc = analyse_one(
        SeriesInput(
            definition,
            periods,
            values,
            list(series.numerators)[:keep] if parts else (),
            list(series.denominators)[:keep] if parts else (),
            breakdown=breakdown,
            value=value,
        )
    )
    marks = [(a.on, a.text) for a in metric.annotations.all() if periods[0] <= a.on <= periods[-1]]
    label = series_label(breakdown, value)
    as_of_text = f" to {as_of:%d %b %Y}" if as_of else ""
    sentences = tuple(
        s for s in (spc.explanation.variation_sentence, spc.explanation.assurance_sentence) if s
    )
    description = f"{metric.name}, {label}{as_of_text}. " + " ".join(sentences)
    spec = spc_chart.spc_spec(
        spc.result,
        periods,
        title=f"{metric.name} ({label}){as_of_text}",
        unit=definition.unit,
        decimals=definition.decimals,
        targets=spc.targets,
        rebases=[r for r in spc.rebases if periods[0] <= r[0] <= periods[-1]],
        annotations=marks,
        width=width,
        height=height,
        description=description,
    )
    return Drawn(spec, description, sentences)


def study_chart(
    metric: Metric,
    definition: Any,
    verdict: study_rules.Verdict,
    *,
    width: int = WIDTH,
    height: int = 180,
    change: str = "the change",
    with_rest: bool = True,
) -> Drawn | None:
    """The Study chart: the pilot (or the whole measure) from the start of the process before
    the change, rebased at the change date; for a pilot, the rest below it on the same time
    axis, so the two can be read together."""
    panels = []
    words = []
    for judgement in (verdict.pilot, verdict.rest if with_rest else None):
        if judgement is None or judgement.rebased is None:
            continue
        # Rebased at the change: the step in the mean is the change; each part's points are
        # coloured against its own limits (the verdict reads them against the old ones).
        spec = spc_chart.spc_spec(
            judgement.rebased,
            list(judgement.periods),
            title=judgement.label,
            unit=definition.unit,
            decimals=definition.decimals,
            rebases=[(verdict.change_on, change)],
            width=width,
            height=height,
            description=judgement.sentence,
        )
        panels.append(spec)
        words.append(judgement.sentence)
    if not panels:
        return None
    description = " ".join(words)
    if len(panels) == 1:
        return Drawn(panels[0], description, tuple(words))
    config = panels[0]["config"]
    for panel in panels:
        for key in ("$schema", "config", "autosize", "description"):
            panel.pop(key, None)
    combined = {
        "$schema": spc_chart.VEGA_LITE_SCHEMA,
        "title": {
            "text": f"{metric.name}: the pilot and the rest, rebased at the change",
            "anchor": "start",
        },
        "description": description,
        "config": config,
        "vconcat": panels,
        "spacing": 24,
    }
    return Drawn(combined, description, tuple(words))
