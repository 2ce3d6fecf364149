"""What needs attention in a team's metrics: one card per metric series, ranked.

The dashboard and the agenda both read these cards, so the meeting discusses what the dashboard
shows. A card is the latest value against its target, a sparkline, the SPC icons' codes and
sentences, how fresh the data is, and whether the commentary asked for the next meeting is late.

Rank (most urgent first): special cause of concern, consistently failing the target, stale
data, overdue commentary; then hit-and-miss targets, other special causes, and the rest by name.

The SPC reading of a stored series never changes (series rows and definition versions are
immutable), so it is kept per process by (series, definition version, hidden): a dashboard
after the first only reads rows and formats them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from threading import Lock
from typing import TYPE_CHECKING, Any

from django.db.models import OuterRef, Subquery
from django.utils.html import escape

from civicloop.metrics.api import _format, _suppressed_values, sees_only_public
from civicloop.metrics.definition import Grain, MetricDefinition
from civicloop.metrics.models import Metric, Series, SeriesRun
from civicloop.metrics.periods import period_label
from civicloop.metrics.spc import SPC_DIRECTION, SeriesInput, analyse_series
from civicloop.spc.describe import ASSURANCE_WORDS, VARIATION_WORDS

if TYPE_CHECKING:
    from civicloop.accounts.models import User
    from civicloop.organizations.models import Team

SPARK_POINTS = 26
SPARK_W = 120
SPARK_H = 32

# Reason codes, most urgent first.
CONCERN = "concern"
FAILING = "failing"
STALE = "stale"
COMMENTARY = "commentary"
REASON_ORDER = (CONCERN, FAILING, STALE, COMMENTARY)
REASON_LABELS = {
    CONCERN: "Special cause of concern",
    FAILING: "Consistently failing its target",
    STALE: "Stale data",
    COMMENTARY: "Commentary overdue",
}


@dataclass(frozen=True)
class Reading:
    """The SPC reading of one stored series, as the card needs it."""

    variation: str | None
    variation_sentence: str
    assurance: str | None
    assurance_sentence: str | None
    target: float | None
    last_type: str | None


_CACHE: OrderedDict[tuple[int, int, bool], Reading] = OrderedDict()
_CACHE_SIZE = 4096
_LOCK = Lock()


def clear() -> None:
    with _LOCK:
        _CACHE.clear()


def _cached(key: tuple[int, int, bool]) -> Reading | None:
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
        return hit


def _keep(key: tuple[int, int, bool], reading: Reading) -> None:
    with _LOCK:
        _CACHE[key] = reading
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)


@dataclass
class Card:
    metric: Metric
    definition: MetricDefinition
    series: Series | None
    hidden: bool
    values: list[float | None] = field(default_factory=list)
    reading: Reading | None = None
    reasons: list[str] = field(default_factory=list)
    commentary: dict[str, Any] | None = None

    @property
    def rank(self) -> tuple[Any, ...]:
        first = min((REASON_ORDER.index(r) for r in self.reasons), default=len(REASON_ORDER))
        r = self.reading
        second = 3
        if r is not None:
            if r.assurance == "inconsistent":
                second = 0
            elif r.variation and r.variation.startswith("special_cause_neutral"):
                second = 1
            elif r.variation == "special_cause_improvement":
                second = 2
        return (first, -len(self.reasons), second, self.metric.name.lower())


def sparkline_svg(values: list[float | None], variation: str | None, label: str) -> str:
    """A small line of the last points, the latest one marked in the colour of its signal.
    Only numbers go into the drawing; the label is escaped by the caller's template."""
    points = [(i, v) for i, v in enumerate(values[-SPARK_POINTS:]) if v is not None]
    if len(points) < 2:
        return ""
    lo = min(v for _, v in points)
    hi = max(v for _, v in points)
    span = (hi - lo) or 1.0
    n = max(len(values[-SPARK_POINTS:]) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return (2 + i * (SPARK_W - 4) / n, 2 + (SPARK_H - 4) * (1 - (v - lo) / span))

    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in points))
    lx, ly = xy(*points[-1])
    tone = {
        "special_cause_concern": "#b45309",
        "special_cause_improvement": "#1d4ed8",
    }.get(variation or "", "#4b5563")
    return (
        f'<svg class="sparkline" viewBox="0 0 {SPARK_W} {SPARK_H}" width="{SPARK_W}" '
        f'height="{SPARK_H}" role="img" aria-label="{escape(label)}">'
        f'<polyline fill="none" stroke="#4b5563" stroke-width="1.5" points="{path}"/>'
        f'<circle cx="{lx:.1f}" cy="{ly:.1f}" r="3" fill="{tone}"/></svg>'
    )


WITHHELD = "Withheld: you may not see this metric's numbers."


def numbers_hidden(metric: Metric, user: User | None) -> bool:
    """Whether this reader may not see every number of the metric: they may not see it at
    all, or see it only because it is public and its small counts are hidden."""
    if user is None or user.is_superuser:
        return False
    if not metric.can_view(user):
        return True
    version = metric.current_version
    return bool(
        version is not None
        and version.definition.get("suppress_below")
        and sees_only_public(metric, user)
    )


def item_hidden(item: Any, user: User | None) -> bool:
    """Whether an agenda item's words (its reason quotes the numbers) are withheld from this
    reader: a metric item, or a key result tracking a metric, whose numbers they may not see."""
    metric = item.metric or (item.key_result.metric if item.key_result_id else None)
    return metric is not None and numbers_hidden(metric, user)


def team_metrics(team: Team, user: User) -> list[Metric]:
    """The team's metrics this person may see, each with its latest run's id annotated."""
    latest = SeriesRun.objects.filter(metric=OuterRef("pk")).order_by("-computed_at", "-pk")
    return list(
        Metric.objects.visible_to(user)
        .filter(team=team)
        .exclude(current_version=None)
        .select_related("current_version", "dataset__current_version", "steward", "team")
        .annotate(latest_run_id=Subquery(latest.values("pk")[:1]))
        .order_by("name")
    )


def breakdown_choices(metrics: list[Metric]) -> list[dict[str, Any]]:
    """Every breakdown value any of these metrics' latest runs hold, e.g. district = North."""
    runs = [m.latest_run_id for m in metrics if m.latest_run_id]  # type: ignore[attr-defined]
    pairs = (
        Series.objects.filter(run_id__in=runs)
        .exclude(breakdown="")
        .values_list("breakdown", "value")
        .distinct()
        .order_by("breakdown", "value")
    )
    return [{"breakdown": b, "value": v, "label": f"{b.replace('_', ' ')}: {v}"} for b, v in pairs]


def cards(
    team: Team,
    user: User,
    *,
    breakdown: str = "",
    value: str = "",
    metrics: list[Metric] | None = None,
    commentary: dict[int, dict[str, Any]] | None = None,
) -> list[Card]:
    """One card per metric (its total, or the chosen breakdown value's series), ranked.
    `commentary` maps metric id -> the commentary asked of it for the next meeting."""
    metrics = team_metrics(team, user) if metrics is None else metrics
    runs = {m.latest_run_id: m for m in metrics if m.latest_run_id}  # type: ignore[attr-defined]
    series_by_run = {
        s.run_id: s
        for s in Series.objects.filter(run_id__in=list(runs), breakdown=breakdown, value=value)
    }
    out: list[Card] = []
    todo: list[tuple[Card, SeriesInput, tuple[int, int, bool]]] = []
    for metric in metrics:
        run_id = metric.latest_run_id  # type: ignore[attr-defined]
        series = series_by_run.get(run_id) if run_id else None
        version = metric.current_version
        assert version is not None
        definition = version.parsed()
        hidden = bool(definition.suppress_below and sees_only_public(metric, user))
        card = Card(metric, definition, series, hidden)
        out.append(card)
        if series is None or not series.values:
            continue
        values = list(series.values)
        if hidden:
            run = SeriesRun.objects.get(pk=run_id)
            values = _suppressed_values(metric, definition, run, series)
        card.values = values
        key = (series.pk, version.pk, hidden)
        reading = _cached(key)
        if reading is not None:
            card.reading = reading
            continue
        todo.append(
            (
                card,
                SeriesInput(
                    definition,
                    [date.fromisoformat(p) for p in series.periods],
                    values,
                    () if hidden else list(series.numerators),
                    () if hidden else list(series.denominators),
                    breakdown=breakdown,
                    value=value,
                ),
                key,
            )
        )
    if todo:
        for (card, _, key), spc in zip(todo, analyse_series([t[1] for t in todo]), strict=True):
            e = spc.explanation
            types = spc.result.types
            reading = Reading(
                variation=e.variation,
                variation_sentence=e.variation_sentence,
                assurance=e.assurance,
                assurance_sentence=e.assurance_sentence,
                target=spc.result.target,
                last_type=types[-1] if types else None,
            )
            _keep(key, reading)
            card.reading = reading
    for card in out:
        r = card.reading
        if r is not None and r.variation == "special_cause_concern":
            card.reasons.append(CONCERN)
        if r is not None and r.assurance == "consistent_fail":
            card.reasons.append(FAILING)
        if card.metric.dataset.is_stale:
            card.reasons.append(STALE)
        asked = (commentary or {}).get(card.metric.pk)
        card.commentary = asked
        if asked and asked.get("overdue"):
            card.reasons.append(COMMENTARY)
    out.sort(key=lambda c: c.rank)
    return out


def card_data(card: Card) -> dict[str, Any]:
    """A card as plain data, for the dashboard page, its JSON twin and the agenda."""
    metric = card.metric
    version = metric.current_version
    assert version is not None
    definition = version.definition
    decimals = int(definition.get("decimals", 0))
    unit = definition.get("unit", "")
    r = card.reading
    series = card.series
    latest = None
    if series is not None and card.values:
        time = definition["time"]
        start = date.fromisoformat(series.periods[-1])
        latest = {
            "period": series.periods[-1],
            "label": period_label(
                start, Grain(time["grain"]), int(time.get("fiscal_year_start", 1))
            ),
            "value": card.values[-1],
            "text": _format(card.values[-1], decimals),
        }
    target = r.target if r else None
    meets = None
    if target is not None and latest and latest["value"] is not None:
        better = SPC_DIRECTION.get(card.definition.direction)
        if better == "increase":
            meets = latest["value"] >= target
        elif better == "decrease":
            meets = latest["value"] <= target
    series_label = "Total" if not series or not series.breakdown else series.value
    dataset = metric.dataset
    return {
        "slug": metric.slug,
        "name": metric.name,
        "url": metric.get_absolute_url(),
        "series": series_label,
        "has_series": series is not None,
        "unit": unit,
        "direction": SPC_DIRECTION[card.definition.direction],
        "latest": latest,
        "target": target,
        "target_text": _format(target, decimals) if target is not None else None,
        "meets_target": meets,
        "variation": r.variation if r else None,
        "variation_label": VARIATION_WORDS[r.variation if r else None],
        "variation_sentence": r.variation_sentence if r else "No data yet, so nothing to judge.",
        "assurance": r.assurance if r else None,
        "assurance_label": ASSURANCE_WORDS[r.assurance if r else None],
        "assurance_sentence": r.assurance_sentence if r else None,
        "sparkline": sparkline_svg(
            card.values,
            r.variation if r else None,
            f"{metric.name}: the last {min(len(card.values), SPARK_POINTS)} periods",
        ),
        "stale": STALE in card.reasons,
        "freshness": dataset.freshness,
        "steward": metric.steward.full_name if metric.steward else None,
        "commentary": card.commentary,
        "reasons": [{"code": c, "label": REASON_LABELS[c]} for c in card.reasons],
        "needs_attention": bool(card.reasons),
        "suppressed": card.hidden,
    }
