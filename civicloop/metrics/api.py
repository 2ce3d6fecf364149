"""Plain-data views of metrics, shared by the pages and their JSON/CSV twins."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from civicloop.metrics.definition import Aggregate, CalculationKind, Direction, Grain
from civicloop.metrics.describe import describe
from civicloop.metrics.models import Metric, Series
from civicloop.metrics.periods import period_label
from civicloop.metrics.services import agreement_for, latest_run
from civicloop.metrics.spc import (
    SPC_DIRECTION,
    MetricSpc,
    SeriesInput,
    analyse_one,
    analyse_series,
)
from civicloop.metrics.suppression import suppress
from civicloop.spc import chart as spc_chart
from civicloop.spc.describe import ASSURANCE_WORDS, VARIATION_WORDS

if TYPE_CHECKING:
    from civicloop.accounts.models import User


def _format(value: float | None, decimals: int) -> str:
    if value is None:
        return "—"
    return f"{value:,.{decimals}f}"


def metric_list_data(user: User) -> dict[str, Any]:
    metrics = (
        Metric.objects.visible_to(user)
        .exclude(current_version=None)
        .select_related("team", "owner", "dataset", "current_version")
        .order_by("team__name", "name")
    )
    return {"metrics": metric_rows(list(metrics), user)}


def metric_rows(metrics: list[Metric], user: User) -> list[dict[str, Any]]:
    """A line per metric for lists and dashboards: latest value and the SPC icons of its total
    (all totals analysed in one batch)."""
    rows = []
    inputs: list[SeriesInput] = []
    for metric in metrics:
        run = latest_run(metric)
        total = run.series.filter(breakdown="").first() if run else None
        definition = metric.current_version.definition if metric.current_version else {}
        parsed = metric.current_version.parsed() if metric.current_version else None
        decimals = int(definition.get("decimals", 0))
        latest = None
        values: list[float | None] = []
        if total is not None and total.values:
            values = list(total.values)
            hidden = bool(parsed and parsed.suppress_below and sees_only_public(metric, user))
            if hidden:
                values = _suppressed_values(metric, parsed, run, total)
            last = values[-1]
            grain = Grain(definition["time"]["grain"])
            start = date.fromisoformat(total.periods[-1])
            label = period_label(start, grain, int(definition["time"].get("fiscal_year_start", 1)))
            latest = {"period": total.periods[-1], "label": label, "value": last}
            if parsed is not None:
                inputs.append(
                    SeriesInput(
                        parsed,
                        [date.fromisoformat(p) for p in total.periods],
                        values,
                        () if hidden else list(total.numerators),
                        () if hidden else list(total.denominators),
                    )
                )
        rows.append(
            {
                "slug": metric.slug,
                "name": metric.name,
                "url": metric.get_absolute_url(),
                "team": metric.team.name,
                "owner": metric.owner.name,
                "dataset": metric.dataset.slug,
                "version": metric.current_version.number if metric.current_version else None,
                "agreement": agreement_for(metric).summary,
                "unit": definition.get("unit", ""),
                "latest": latest,
                "latest_text": _format(latest["value"], decimals) if latest else "—",
                "public": metric.is_public,
                "direction": SPC_DIRECTION[parsed.direction] if parsed else "neutral",
                "variation": None,
                "variation_label": VARIATION_WORDS[None],
                "variation_sentence": "No data yet, so nothing to judge.",
                "assurance": None,
                "assurance_label": ASSURANCE_WORDS[None],
                "assurance_sentence": None,
                "_spc": bool(latest and parsed is not None),
            }
        )
    results = iter(analyse_series(inputs))
    for row in rows:
        if row.pop("_spc"):
            e = next(results).explanation
            row.update(
                variation=e.variation,
                variation_label=e.variation_label,
                variation_sentence=e.variation_sentence,
                assurance=e.assurance,
                assurance_label=e.assurance_label,
                assurance_sentence=e.assurance_sentence,
            )
    return rows


def _series_choice(
    run: Any, breakdown: str, value: str
) -> tuple[Series | None, list[dict[str, Any]]]:
    """The series asked for (the total by default) and the choices for the selector."""
    all_series = list(run.series.all()) if run else []
    choices = [
        {
            "breakdown": s.breakdown,
            "value": s.value,
            "label": f"{s.value} ({s.breakdown.replace('_', ' ')})" if s.breakdown else "Total",
            "selected": s.breakdown == breakdown and s.value == value,
        }
        for s in all_series
    ]
    chosen = next((s for s in all_series if s.breakdown == breakdown and s.value == value), None)
    if chosen is None:
        chosen = next((s for s in all_series if not s.breakdown), None)
        for choice in choices:
            choice["selected"] = not choice["breakdown"]
    return chosen, choices


def sees_only_public(metric: Metric, user: User) -> bool:
    """Whether this person sees the metric only because it is public: small counts are hidden
    from them (the team, with the data's agreement, sees every number)."""
    if user.is_superuser:
        return False
    return metric.is_public and not (metric.team.role_of(user) and metric.dataset.can_view(user))


def _suppressed_values(
    metric: Metric, definition: Any, run: Any, series: Series
) -> list[float | None]:
    """The series' values with small counts hidden, checked against its breakdown's cells."""
    threshold = definition.suppress_below
    if not threshold or not counts_people(definition):
        return list(series.values)
    ratio = definition.calculation.kind is not CalculationKind.SIMPLE
    siblings = list(run.series.filter(breakdown__in=["", series.breakdown]))
    counts = {s.value: (s.numerators if ratio else s.values) for s in siblings if s.breakdown}
    total = next(s for s in siblings if not s.breakdown)
    shown_total, shown = suppress(
        total.numerators if ratio else total.values, counts if series.breakdown else {}, threshold
    )
    kept = shown_total if not series.breakdown else shown[series.value]
    return [v if k is not None else None for v, k in zip(series.values, kept, strict=True)]


def counts_people(definition: Any) -> bool:
    """Suppression applies to counts (and to the numerators of ratios and rates)."""
    measure = definition.calculation.measure
    return measure.aggregate.is_count or measure.aggregate is Aggregate.SUM


def metric_detail_data(
    metric: Metric, user: User, breakdown: str = "", value: str = ""
) -> dict[str, Any]:
    version = metric.current_version
    assert version is not None
    definition = version.parsed()
    run = latest_run(metric)
    series, choices = _series_choice(run, breakdown, value)
    if breakdown and (series is None or (series.breakdown, series.value) != (breakdown, value)):
        available = ", ".join(c["label"] for c in choices if c["breakdown"]) or "none"
        raise Http404(f"This metric has no series {breakdown}={value!r}. Series: {available}.")
    periods = [date.fromisoformat(p) for p in series.periods] if series else []
    values = list(series.values) if series else []
    suppressed = bool(series and definition.suppress_below and sees_only_public(metric, user))
    if suppressed and series is not None:
        values = _suppressed_values(metric, definition, run, series)
    grain = definition.time.grain
    fiscal = definition.time.fiscal_year_start
    target = definition.target
    shown_parts = bool(series and series.numerators and not suppressed)
    spc = analyse_one(
        SeriesInput(
            definition,
            periods,
            values,
            list(series.numerators) if series and shown_parts else (),
            list(series.denominators) if series and shown_parts else (),
            breakdown=series.breakdown if series else "",
            value=series.value if series else "",
        )
    )
    result = spc.result
    types = result.types
    rows = []
    for index, period in enumerate(periods):
        point_target = target.value_on(period) if target else None
        rows.append(
            {
                "period": period.isoformat(),
                "label": period_label(period, grain, fiscal),
                "value": values[index],
                "value_text": _format(values[index], definition.decimals),
                "numerator": series.numerators[index]
                if series and series.numerators and not suppressed
                else None,
                "denominator": series.denominators[index]
                if series and series.denominators and not suppressed
                else None,
                "target": point_target,
                "mean": _float(result.mean[index]),
                "lpl": _float(result.lpl[index]),
                "upl": _float(result.upl[index]),
                "type": types[index],
                "group": int(result.group_ids[index]) + 1,
                "type_text": VARIATION_WORDS[types[index]] if types[index] else "",
                "mean_text": _format(_float(result.mean[index]), definition.decimals + 1),
                "limits_text": _limits_text(result, index, definition.decimals + 1),
            }
        )
    current_target = target.value_on(timezone.localdate()) if target else None
    label = next((c["label"] for c in choices if c["selected"]), "Total")
    summary = ""
    known = [r for r in rows if r["value"] is not None]
    if known:
        summary = (
            f"{metric.name}, {label}: {len(rows)} {grain.value}s from {known[0]['label']} to "
            f"{known[-1]['label']}; latest {known[-1]['value_text']} {definition.unit}, lowest "
            f"{_format(min(r['value'] for r in known), definition.decimals)}, highest "
            f"{_format(max(r['value'] for r in known), definition.decimals)}."
        )
    marks = list(metric.annotations.select_related("author"))
    annotations = [
        {
            "id": a.pk,
            "on": a.on.isoformat(),
            "text": a.text,
            "author": a.author.full_name if a.author else None,
            "can_delete": a.can_delete(user),
        }
        for a in marks
    ]
    spec = spc_chart.spc_spec(
        result,
        periods,
        title=f"{metric.name} ({label})",
        unit=definition.unit,
        decimals=definition.decimals,
        targets=spc.targets,
        rebases=spc.rebases,
        annotations=[(a.on, a.text) for a in marks if _within(a.on, periods)],
        description=" ".join(
            part
            for part in (
                summary,
                spc.explanation.variation_sentence,
                spc.explanation.assurance_sentence,
            )
            if part
        ),
    )
    spec_json = json.dumps(spec, allow_nan=False, sort_keys=True)
    agreement = agreement_for(metric)
    dataset = metric.dataset
    dataset_version = run.dataset_version if run else None
    lineage = {
        "dataset": dataset.name,
        "dataset_slug": dataset.slug,
        "dataset_url": dataset.get_absolute_url(),
        "source": dataset.get_source_kind_display(),
        "dataset_version": dataset_version.number if dataset_version else None,
        "dataset_current_version": dataset.current_version.number
        if dataset.current_version
        else None,
        "last_load": dataset.last_loaded_at.isoformat() if dataset.last_loaded_at else None,
        "freshness": dataset.freshness,
        "stale": dataset.is_stale,
        "computed_at": run.computed_at.isoformat() if run else None,
        "computed_text": f"{timezone.localtime(run.computed_at):%d %b %Y, %H:%M}" if run else None,
        "metric_version": run.metric_version.number if run else None,
        "complete_through": run.complete_through.isoformat()
        if run and run.complete_through
        else None,
        "engine": run.engine if run else None,
        "rows": run.rows if run else None,
        "warnings": run.warnings if run else [],
        "out_of_date": bool(run and run.metric_version_id != version.pk),
    }
    if metric.population_dataset is not None:
        lineage["population_dataset"] = metric.population_dataset.name
    org = metric.agreeing_organization(user)
    return {
        "metric": {
            "slug": metric.slug,
            "name": metric.name,
            "question": definition.question,
            "description": definition.description,
            "caveats": definition.caveats,
            "team": metric.team.name,
            "team_url": metric.team.get_absolute_url(),
            "owner": metric.owner.name,
            "steward": metric.steward.full_name if metric.steward else None,
            "steward_organization": metric.steward.organization.name
            if metric.steward and metric.steward.organization
            else None,
            "unit": definition.unit,
            "direction": definition.direction.value,
            "direction_text": {
                Direction.HIGHER_IS_BETTER: "Higher is better",
                Direction.LOWER_IS_BETTER: "Lower is better",
                Direction.NEUTRAL: "Neither higher nor lower is better",
            }[definition.direction],
            "grain": grain.value,
            "target": current_target,
            "target_text": _format(current_target, definition.decimals)
            if current_target is not None
            else None,
            "public": metric.is_public,
            "suppress_below": definition.suppress_below,
            "suppressed": suppressed,
            "version": version.number,
            "version_reason": version.reason,
            "version_at": version.created_at.isoformat(),
            "version_text": f"{timezone.localtime(version.created_at):%d %b %Y, %H:%M}",
            "plain_language": describe(definition),
            "definition": version.definition,
        },
        "agreement": {
            "summary": agreement.summary,
            "agreed": [
                {
                    "organization": s.organization.name,
                    "person": s.person.full_name if s.person else None,
                    "at": s.at.isoformat(),
                    "comment": s.comment,
                }
                for s in agreement.agreed
            ],
            "waiting": [o.name for o in agreement.waiting],
            "you_may_agree_for": org.name if org and org in agreement.waiting else None,
        },
        "lineage": lineage,
        "series": {
            "breakdown": series.breakdown if series else "",
            "value": series.value if series else "",
            "label": label,
            "choices": choices,
            "points": rows,
            "summary": summary,
        },
        "spc": _spc_data(spc),
        "annotations": annotations,
        "chart": {"vega_lite": spec},
        "links": {
            "json": reverse("metrics:metric_detail_json", kwargs={"slug": metric.slug}),
            "csv": reverse("metrics:metric_detail_csv", kwargs={"slug": metric.slug}),
            "history": reverse("metrics:metric_history", kwargs={"slug": metric.slug}),
        },
        "_spec_json": spec_json,
    }


def _within(day: date, periods: list[date]) -> bool:
    """Whether an event falls inside the periods a chart draws (through the last one's end);
    events outside are listed under the chart but not drawn, so they cannot stretch its axis."""
    if not periods:
        return False
    step = periods[-1] - periods[-2] if len(periods) > 1 else timedelta(days=1)
    return periods[0] <= day < periods[-1] + step


def _float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _limits_text(result: Any, index: int, decimals: int) -> str:
    low, high = _float(result.lpl[index]), _float(result.upl[index])
    if low is None or high is None:
        return "—"
    return f"{_format(low, decimals)} to {_format(high, decimals)}"


CHART_NAMES = {
    "xmr": "XmR chart (individuals)",
    "run": "Run chart (median, Anhøj rules)",
    "p": "p chart (proportions)",
    "u": "u chart (rates)",
    "c": "c chart (counts)",
    "p_prime": "Laney p-prime chart (proportions)",
    "u_prime": "Laney u-prime chart (rates)",
}


def _settings_text(spc: MetricSpc) -> str:
    r = spc.result
    parts = [CHART_NAMES.get(r.chart, r.chart)]
    if r.chart != "run":
        parts.append(
            f"limits from the first {r.baseline} points of each group"
            if r.baseline
            else "limits from all points of each group"
        )
    if r.chart == "xmr":
        parts.append("large moving ranges screened out" if r.screen else "no screening")
    for day, reason in spc.rebases:
        if (day, reason) in spc.applied_rebases:
            parts.append(f"rebased {day:%d %b %Y}: {reason}")
    return " · ".join(parts)


def _spc_data(spc: MetricSpc) -> dict[str, Any]:
    r, e = spc.result, spc.explanation
    return {
        "settings_text": _settings_text(spc),
        "chart": r.chart,
        "direction": r.direction,
        "variation": e.variation,
        "variation_label": e.variation_label,
        "variation_sentence": e.variation_sentence,
        "assurance": e.assurance,
        "assurance_label": e.assurance_label,
        "assurance_sentence": e.assurance_sentence,
        "target": r.target,
        "baseline_points": r.baseline,
        "screening": r.screen,
        "rebases": [
            {
                "date": day.isoformat(),
                "reason": reason,
                "applied": (day, reason) in spc.applied_rebases,
            }
            for day, reason in spc.rebases
        ],
        "warnings": list(r.warnings)
        + [
            f"the rebase of {day:%d %b %Y} ({reason}) is outside the data, so it has no effect yet"
            for day, reason in spc.rebases
            if (day, reason) not in spc.applied_rebases
        ],
        "run_signals": [
            {
                "group": s.group + 1,
                "useful_points": s.useful_points,
                "longest_run": s.longest_run,
                "longest_run_max": s.longest_run_max,
                "crossings": s.crossings,
                "crossings_min": s.crossings_min,
            }
            for s in r.run_signals
        ],
    }
