"""A metric definition: what a measure means, written down so everyone computes it the same way.

A definition is declarative and self-describing. It is read from plain data (a YAML file, a form,
the API), checked field by field, and written back in one canonical order, so the YAML files
people keep in git stay stable and diff cleanly. Every problem names its field with a dotted
path (`measure.ratio.denominator.column`) and says how to fix it.

Pure Python: no Django, no engine. Checks that need the dataset's schema or the data live in
`compiler.py`; checks that need the app database (teams, agreements) in `services.py`.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

E = TypeVar("E", bound=StrEnum)
METRIC_ID = re.compile(r"^[a-z][a-z0-9-]{0,79}$")


class DefinitionError(ValueError):
    """One or more problems with a definition, each as (field path, message)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.problems))


class Aggregate(StrEnum):
    COUNT = "count"
    COUNT_DISTINCT = "count_distinct"
    SUM = "sum"
    MEAN = "mean"
    MEDIAN = "median"
    PERCENTILE = "percentile"
    MIN = "min"
    MAX = "max"

    @property
    def needs_column(self) -> bool:
        return self is not Aggregate.COUNT

    @property
    def is_count(self) -> bool:
        """A count of records: a period with no records is a true zero."""
        return self in (Aggregate.COUNT, Aggregate.COUNT_DISTINCT)


class Grain(StrEnum):
    DAY = "day"
    WEEK = "week"  # weeks start on Monday
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"

    @property
    def rank(self) -> int:
        return list(Grain).index(self)


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"
    NEUTRAL = "neutral"


#: Making Data Count fixes limits on at least this many points (NHSRplotthedots refuses fewer).
MIN_BASELINE_POINTS = 12


class ChartType(StrEnum):
    XMR = "xmr"
    RUN = "run"
    P = "p"
    U = "u"
    C = "c"
    P_PRIME = "p_prime"  # Laney's p' (large denominators)
    U_PRIME = "u_prime"  # Laney's u'

    @property
    def needs_denominator(self) -> bool:
        return self in (ChartType.P, ChartType.U, ChartType.P_PRIME, ChartType.U_PRIME)


class DurationUnit(StrEnum):
    DAYS = "days"
    HOURS = "hours"

    @property
    def seconds(self) -> int:
        return 86_400 if self is DurationUnit.DAYS else 3_600


@dataclass(frozen=True)
class Duration:
    """Time from one timestamp to another (e.g. opened -> closed), in days or hours."""

    start: str
    end: str
    unit: DurationUnit = DurationUnit.DAYS


@dataclass(frozen=True)
class Measure:
    """One aggregate over the (filtered) records of a period."""

    aggregate: Aggregate
    column: str | None = None
    duration: Duration | None = None
    p: float | None = None  # percentile, 0-100
    filter: str = ""  # only the records this part counts (ratio numerators, mostly)

    @property
    def source(self) -> str:
        """What is aggregated, in words: a column, a duration, or the records."""
        if self.duration is not None:
            return f"{self.duration.unit.value} from {self.duration.start} to {self.duration.end}"
        return self.column or "records"


@dataclass(frozen=True)
class Population:
    """A population dataset for rates: the sum of `column`, matched on the `by` columns."""

    dataset: str
    column: str
    by: tuple[str, ...] = ()


class CalculationKind(StrEnum):
    SIMPLE = "simple"
    RATIO = "ratio"
    RATE = "rate"


@dataclass(frozen=True)
class Calculation:
    kind: CalculationKind
    measure: Measure  # the value (simple), the numerator (ratio), or what is counted (rate)
    denominator: Measure | None = None  # ratio only
    population: Population | None = None  # rate only
    multiplier: float = 1.0  # ratio: 100 for a percentage; rate: per N people

    def measures(self) -> list[Measure]:
        return [self.measure] + ([self.denominator] if self.denominator else [])


@dataclass(frozen=True)
class TimeSpec:
    column: str
    grain: Grain
    fiscal_year_start: int = 1  # month the fiscal year starts; shifts quarters and years
    complete_periods_only: bool = True
    zero_fill: bool = True


@dataclass(frozen=True)
class TargetStep:
    starts: date
    value: float


@dataclass(frozen=True)
class Target:
    """A single value, or a trajectory: each value applies from its date until the next."""

    value: float | None = None
    trajectory: tuple[TargetStep, ...] = ()

    def value_on(self, day: date) -> float | None:
        if not self.trajectory:
            return self.value
        current = None
        for step in self.trajectory:
            if step.starts <= day:
                current = step.value
        return current


@dataclass(frozen=True)
class Rebase:
    """A date the process changed. With a breakdown value (a pilot's district, say), only
    that value's series starts a new group there: the rest of the metric did not change."""

    on: date
    reason: str
    breakdown: str = ""
    value: str = ""

    def applies_to(self, breakdown: str, value: str) -> bool:
        return not self.breakdown or (self.breakdown, self.value) == (breakdown, value)

    @property
    def scope(self) -> str:
        return f"{self.breakdown} = {self.value}" if self.breakdown else ""


@dataclass(frozen=True)
class ChartSettings:
    """Read by the SPC engine; stored here so every change to them is a new version."""

    type: ChartType = ChartType.XMR
    baseline_points: int | None = None
    screening: bool = True
    rebases: tuple[Rebase, ...] = ()


@dataclass(frozen=True)
class MetricDefinition:
    id: str
    name: str
    question: str
    dataset: str
    calculation: Calculation
    time: TimeSpec
    team: str
    owner: str
    steward: str = ""
    description: str = ""
    caveats: str = ""
    filter: str = ""
    breakdowns: tuple[str, ...] = ()
    unit: str = ""
    decimals: int = 0
    direction: Direction = Direction.NEUTRAL
    target: Target | None = None
    chart: ChartSettings = field(default_factory=ChartSettings)
    public: bool = False
    suppress_below: int | None = None

    def datasets(self) -> list[str]:
        population = self.calculation.population
        return [self.dataset] + ([population.dataset] if population else [])

    def with_changes(self, **changes: Any) -> MetricDefinition:
        return replace(self, **changes)


# --- reading --------------------------------------------------------------------------------


class _Reader:
    """Collects every problem in one pass, so a person fixes a file once, not ten times."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def mapping(self, data: Any, path: str, allowed: Sequence[str]) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            self.fail(path or "definition", f"must be a mapping of keys to values, not {data!r}")
            return {}
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), list(allowed), n=1, cutoff=0.75)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                where = f"{path}.{key}" if path else str(key)
                self.fail(where, f"unknown key{hint}; allowed here: {', '.join(allowed)}")
        return data

    def text(
        self, data: Mapping[str, Any], key: str, path: str, required: bool = False, limit: int = 0
    ) -> str:
        value = data.get(key)
        where = f"{path}.{key}" if path else key
        if value is None or value == "":
            if required:
                self.fail(where, "is required")
            return ""
        if not isinstance(value, str):
            if isinstance(value, int | float) and not isinstance(value, bool):
                return str(value)
            self.fail(where, f"must be text, not {value!r}")
            return ""
        # Browsers send line breaks as CRLF: an untouched form must not read as a change.
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        if limit and len(value) > limit:
            self.fail(where, f"is {len(value)} characters long; keep it under {limit}")
        return value.strip()

    def number(
        self, data: Mapping[str, Any], key: str, path: str, required: bool = False
    ) -> float | None:
        value = data.get(key)
        where = f"{path}.{key}" if path else key
        if value is None:
            if required:
                self.fail(where, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                value = float(str(value).replace(",", ""))
            except ValueError:
                self.fail(where, f"must be a number, not {value!r}")
                return None
        if not math.isfinite(value):
            self.fail(where, f"must be a finite number, not {value!r}")
            return None
        return float(value)

    def integer(self, data: Mapping[str, Any], key: str, path: str) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{path}.{key}" if path else key, f"must be a whole number, not {value!r}")
            return None
        return value

    def flag(self, data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(f"{path}.{key}" if path else key, f"must be true or false, not {value!r}")
            return default
        return value

    def choice(
        self, data: Mapping[str, Any], key: str, path: str, enum: type[E], default: E | None
    ) -> E | None:
        value = data.get(key)
        where = f"{path}.{key}" if path else key
        if value is None:
            if default is None:
                self.fail(where, f"is required: one of {', '.join(e.value for e in enum)}")
            return default
        try:
            return enum(str(value).strip().lower())
        except ValueError:
            self.fail(where, f"{value!r} is not one of {', '.join(e.value for e in enum)}")
            return default

    def day(self, value: Any, where: str) -> date | None:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(where, f"{value!r} is not a date: write it as YYYY-MM-DD, e.g. 2025-04-01")
            return None


_TOP_KEYS = (
    "id",
    "name",
    "question",
    "description",
    "caveats",
    "team",
    "owner",
    "steward",
    "dataset",
    "filter",
    "measure",
    "time",
    "breakdowns",
    "unit",
    "decimals",
    "direction",
    "target",
    "chart",
    "public",
    "suppress_below",
)
_MEASURE_KEYS = ("aggregate", "column", "duration", "p", "filter")
_MEASURE_TOP_KEYS = (*_MEASURE_KEYS, "ratio", "rate")


def _read_measure(r: _Reader, data: Any, path: str, allow_filter: bool) -> Measure | None:
    data = r.mapping(data, path, _MEASURE_KEYS)
    aggregate = r.choice(data, "aggregate", path, Aggregate, None)
    column = r.text(data, "column", path) or None
    duration = None
    if data.get("duration") is not None:
        dpath = f"{path}.duration"
        ddata = r.mapping(data["duration"], dpath, ("start", "end", "unit"))
        duration = Duration(
            start=r.text(ddata, "start", dpath, required=True),
            end=r.text(ddata, "end", dpath, required=True),
            unit=r.choice(ddata, "unit", dpath, DurationUnit, DurationUnit.DAYS)
            or DurationUnit.DAYS,
        )
    p = r.number(data, "p", path)
    filter_text = r.text(data, "filter", path, limit=2000)
    if filter_text and not allow_filter:
        r.fail(f"{path}.filter", "belongs at the top level of the definition (the `filter` key)")
    if aggregate is None:
        return None
    if aggregate is Aggregate.COUNT and (column or duration):
        r.fail(f"{path}.aggregate", "count counts records; to count values use count_distinct")
    if aggregate.needs_column and not column and duration is None:
        r.fail(
            f"{path}.column",
            f"{aggregate.value} needs a column (or a duration: start and end timestamps)",
        )
    if column and duration is not None:
        r.fail(f"{path}.duration", "give either a column or a duration, not both")
    if duration is not None and aggregate is Aggregate.COUNT_DISTINCT:
        r.fail(f"{path}.aggregate", "count_distinct of a duration is not meaningful")
    if aggregate is Aggregate.PERCENTILE:
        if p is None:
            r.fail(f"{path}.p", "percentile needs p, between 0 and 100 (e.g. 90)")
        elif not 0 <= p <= 100:
            r.fail(f"{path}.p", f"{p:g} is not between 0 and 100")
    elif p is not None:
        r.fail(f"{path}.p", "p is only for aggregate: percentile")
    return Measure(aggregate, column, duration, p, filter_text)


def _read_calculation(r: _Reader, data: Any) -> Calculation | None:
    data = r.mapping(data, "measure", _MEASURE_TOP_KEYS)
    if "ratio" in data and "rate" in data:
        r.fail("measure", "give either ratio or rate, not both")
        return None
    if "ratio" in data:
        path = "measure.ratio"
        ratio = r.mapping(data["ratio"], path, ("numerator", "denominator", "multiplier"))
        if set(data) - {"ratio"}:
            r.fail("measure", "a ratio takes its aggregates under numerator and denominator")
        numerator = _read_measure(r, ratio.get("numerator"), f"{path}.numerator", True)
        denominator = _read_measure(r, ratio.get("denominator"), f"{path}.denominator", True)
        multiplier = r.number(ratio, "multiplier", path) or 1.0
        if multiplier <= 0:
            r.fail(f"{path}.multiplier", "must be positive (e.g. 100 for a percentage)")
        if numerator is None or denominator is None:
            return None
        return Calculation(CalculationKind.RATIO, numerator, denominator, multiplier=multiplier)
    if "rate" in data:
        path = "measure.rate"
        rate = r.mapping(data["rate"], path, ("of", "population", "per"))
        if set(data) - {"rate"}:
            r.fail("measure", "a rate takes its aggregate under `of`")
        counted = _read_measure(r, rate.get("of"), f"{path}.of", False)
        ppath = f"{path}.population"
        pdata = r.mapping(rate.get("population"), ppath, ("dataset", "column", "by"))
        by = pdata.get("by") or ()
        if isinstance(by, str):
            by = (by,)
        if not isinstance(by, Sequence) or not all(isinstance(b, str) for b in by):
            r.fail(f"{ppath}.by", "must be a list of column names")
            by = ()
        population = Population(
            dataset=r.text(pdata, "dataset", ppath, required=True),
            column=r.text(pdata, "column", ppath, required=True),
            by=tuple(by),
        )
        per = r.number(rate, "per", path, required=True) or 0.0
        if per is not None and per <= 0:
            r.fail(f"{path}.per", "must be positive, e.g. 100000 for a rate per 100,000 people")
        if counted is None:
            return None
        return Calculation(CalculationKind.RATE, counted, population=population, multiplier=per)
    measure = _read_measure(r, data, "measure", False)
    return Calculation(CalculationKind.SIMPLE, measure) if measure else None


def _read_time(r: _Reader, data: Any, default_fill: bool, fill_allowed: bool) -> TimeSpec | None:
    data = r.mapping(
        data, "time", ("column", "grain", "fiscal_year_start", "complete_periods_only", "zero_fill")
    )
    column = r.text(data, "column", "time", required=True)
    grain = r.choice(data, "grain", "time", Grain, None)
    fiscal = r.integer(data, "fiscal_year_start", "time") or 1
    if not 1 <= fiscal <= 12:
        r.fail("time.fiscal_year_start", f"{fiscal} is not a month number from 1 to 12")
    complete = r.flag(data, "complete_periods_only", "time", True)
    zero_fill = r.flag(data, "zero_fill", "time", default_fill)
    if zero_fill and not fill_allowed:
        r.fail(
            "time.zero_fill",
            "zero-fill is for counts and sums: a period with no records has no median or mean. "
            "Remove zero_fill or set it to false",
        )
    if not column or grain is None:
        return None
    return TimeSpec(column, grain, fiscal, complete, zero_fill)


def _read_target(r: _Reader, data: Any) -> Target | None:
    if data is None:
        return None
    if isinstance(data, int | float) and not isinstance(data, bool):
        return Target(value=float(data))
    data = r.mapping(data, "target", ("value", "trajectory"))
    value = r.number(data, "value", "target")
    steps: list[TargetStep] = []
    trajectory = data.get("trajectory") or []
    if not isinstance(trajectory, list):
        r.fail("target.trajectory", "must be a list of {from: DATE, value: NUMBER}")
        trajectory = []
    for index, item in enumerate(trajectory):
        path = f"target.trajectory[{index}]"
        item = r.mapping(item, path, ("from", "value"))
        starts = r.day(item.get("from"), f"{path}.from") if "from" in item else None
        if "from" not in item:
            r.fail(f"{path}.from", "is required: the date this value applies from")
        step_value = r.number(item, "value", path, required=True)
        if starts is not None and step_value is not None:
            steps.append(TargetStep(starts, step_value))
    if value is not None and steps:
        r.fail("target", "give either a value or a trajectory, not both")
    if value is None and not steps:
        r.fail("target", "needs a value or a trajectory")
        return None
    if [s.starts for s in steps] != sorted({s.starts for s in steps}):
        r.fail("target.trajectory", "dates must be in order, each once")
    return Target(value=value, trajectory=tuple(steps))


def _read_chart(r: _Reader, data: Any) -> ChartSettings:
    if data is None:
        return ChartSettings()
    data = r.mapping(data, "chart", ("type", "baseline_points", "screening", "rebases"))
    kind = r.choice(data, "type", "chart", ChartType, ChartType.XMR) or ChartType.XMR
    baseline = r.integer(data, "baseline_points", "chart")
    if baseline is not None and baseline < MIN_BASELINE_POINTS:
        r.fail(
            "chart.baseline_points",
            f"needs at least {MIN_BASELINE_POINTS} points (Making Data Count's minimum); leave "
            "it out to fix the limits on every point of each group",
        )
    rebases: list[Rebase] = []
    items = data.get("rebases") or []
    if not isinstance(items, list):
        r.fail("chart.rebases", "must be a list of {date: YYYY-MM-DD, reason: TEXT}")
        items = []
    for index, item in enumerate(items):
        path = f"chart.rebases[{index}]"
        item = r.mapping(item, path, ("date", "reason", "breakdown", "value"))
        on = r.day(item.get("date"), f"{path}.date") if "date" in item else None
        if "date" not in item:
            r.fail(f"{path}.date", "is required: the date the process changed")
        reason = r.text(item, "reason", path, required=True, limit=500)
        breakdown = str(item.get("breakdown") or "").strip()
        value = str(item.get("value") or "").strip()
        if bool(breakdown) != bool(value):
            r.fail(
                path,
                "give both breakdown and value (e.g. breakdown: district, value: District 3) "
                "to rebase one breakdown value's series, or neither to rebase every series",
            )
        if on is not None and reason:
            rebases.append(Rebase(on, reason, breakdown, value))
    if len({(rb.on, rb.breakdown, rb.value) for rb in rebases}) != len(rebases):
        r.fail("chart.rebases", "each date may appear once (per breakdown value)")
    return ChartSettings(
        kind,
        baseline,
        r.flag(data, "screening", "chart", True),
        tuple(sorted(rebases, key=lambda rb: rb.on)),
    )


def parse_definition(data: Any) -> MetricDefinition:
    """Plain data (from YAML, a form or the API) -> a checked definition, or DefinitionError."""
    r = _Reader()
    data = r.mapping(data, "", _TOP_KEYS)
    metric_id = r.text(data, "id", "", required=True)
    if metric_id == "new":
        r.fail("id", "'new' is reserved (it is the new-metric page's address): choose another")
    elif metric_id and not METRIC_ID.match(metric_id):
        r.fail(
            "id",
            f"{metric_id!r} is not a valid id: use lower-case letters, digits and hyphens, "
            "starting with a letter (e.g. dumping-requests-weekly)",
        )
    calculation = _read_calculation(r, data.get("measure")) if "measure" in data else None
    if "measure" not in data:
        r.fail("measure", "is required: what to compute, e.g. {aggregate: count}")
    counting = bool(calculation and default_zero_fill(calculation))
    summable = bool(
        calculation
        and all(
            m.aggregate.is_count or m.aggregate is Aggregate.SUM for m in calculation.measures()
        )
    )
    time = _read_time(r, data.get("time"), counting, summable) if "time" in data else None
    if "time" not in data:
        r.fail("time", "is required: {column: ..., grain: week}")
    breakdowns = data.get("breakdowns") or []
    if isinstance(breakdowns, str):
        breakdowns = [breakdowns]
    if not isinstance(breakdowns, list) or not all(isinstance(b, str) for b in breakdowns):
        r.fail("breakdowns", "must be a list of column names, e.g. [district, channel]")
        breakdowns = []
    if len(set(breakdowns)) != len(breakdowns):
        r.fail("breakdowns", "each column may appear once")
    decimals = r.integer(data, "decimals", "")
    if decimals is not None and not 0 <= decimals <= 6:
        r.fail("decimals", "must be between 0 and 6")
    suppress = r.integer(data, "suppress_below", "")
    if suppress is not None and not 1 <= suppress <= 100:
        r.fail("suppress_below", "must be between 1 and 100 (commonly 5 or 10), or left out")
    direction = r.choice(data, "direction", "", Direction, Direction.NEUTRAL)
    target = _read_target(r, data.get("target"))
    chart = _read_chart(r, data.get("chart"))
    for index, rebase in enumerate(chart.rebases):
        if rebase.breakdown and rebase.breakdown not in breakdowns:
            r.fail(
                f"chart.rebases[{index}].breakdown",
                f"{rebase.breakdown!r} is not one of the metric's breakdowns "
                f"({', '.join(breakdowns) or 'it has none'})",
            )
    if chart.type.needs_denominator and (
        calculation is None or calculation.kind is CalculationKind.SIMPLE
    ):
        r.fail(
            "chart.type",
            f"a {chart.type.value} chart needs a numerator and denominator: use a ratio or rate",
        )
    if chart.type is ChartType.C and (
        calculation is None
        or calculation.kind is not CalculationKind.SIMPLE
        or not (
            calculation.measure.aggregate.is_count or calculation.measure.aggregate is Aggregate.SUM
        )
    ):
        r.fail(
            "chart.type",
            "a c chart is for counts: use it with a count (or a sum of counts), or use xmr",
        )
    if target is not None and direction is Direction.NEUTRAL:
        r.fail(
            "direction",
            "a metric with a target needs a direction: higher_is_better or lower_is_better",
        )
    definition = MetricDefinition(
        id=metric_id,
        name=r.text(data, "name", "", required=True, limit=200),
        question=r.text(data, "question", "", required=True, limit=500),
        description=r.text(data, "description", "", limit=5000),
        caveats=r.text(data, "caveats", "", limit=5000),
        team=r.text(data, "team", "", required=True),
        owner=r.text(data, "owner", "", required=True),
        steward=r.text(data, "steward", ""),
        dataset=r.text(data, "dataset", "", required=True),
        filter=r.text(data, "filter", "", limit=2000),
        calculation=calculation,  # type: ignore[arg-type]  # None only when problems exist
        time=time,  # type: ignore[arg-type]
        breakdowns=tuple(breakdowns),
        unit=r.text(data, "unit", "", limit=40),
        decimals=decimals if decimals is not None else 0,
        direction=direction or Direction.NEUTRAL,
        target=target,
        chart=chart,
        public=r.flag(data, "public", "", False),
        suppress_below=suppress,
    )
    if r.problems:
        raise DefinitionError(r.problems)
    return definition


# --- writing --------------------------------------------------------------------------------


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _measure_dict(measure: Measure) -> dict[str, Any]:
    out: dict[str, Any] = {"aggregate": measure.aggregate.value}
    if measure.column:
        out["column"] = measure.column
    if measure.duration:
        out["duration"] = {
            "start": measure.duration.start,
            "end": measure.duration.end,
            "unit": measure.duration.unit.value,
        }
    if measure.p is not None:
        out["p"] = _number(measure.p)
    if measure.filter:
        out["filter"] = measure.filter
    return out


def definition_to_dict(d: MetricDefinition) -> dict[str, Any]:
    """The canonical plain form: fixed key order, defaults left out, so diffs show real change."""
    out: dict[str, Any] = {"id": d.id, "name": d.name, "question": d.question}
    for key in ("description", "caveats"):
        if getattr(d, key):
            out[key] = getattr(d, key)
    out["team"] = d.team
    out["owner"] = d.owner
    if d.steward:
        out["steward"] = d.steward
    out["dataset"] = d.dataset
    if d.filter:
        out["filter"] = d.filter
    calc = d.calculation
    if calc.kind is CalculationKind.RATIO:
        assert calc.denominator is not None
        ratio: dict[str, Any] = {
            "numerator": _measure_dict(calc.measure),
            "denominator": _measure_dict(calc.denominator),
        }
        if calc.multiplier != 1:
            ratio["multiplier"] = _number(calc.multiplier)
        out["measure"] = {"ratio": ratio}
    elif calc.kind is CalculationKind.RATE:
        assert calc.population is not None
        population: dict[str, Any] = {
            "dataset": calc.population.dataset,
            "column": calc.population.column,
        }
        if calc.population.by:
            population["by"] = list(calc.population.by)
        out["measure"] = {
            "rate": {
                "of": _measure_dict(calc.measure),
                "population": population,
                "per": _number(calc.multiplier),
            }
        }
    else:
        out["measure"] = _measure_dict(calc.measure)
    time: dict[str, Any] = {"column": d.time.column, "grain": d.time.grain.value}
    if d.time.fiscal_year_start != 1:
        time["fiscal_year_start"] = d.time.fiscal_year_start
    if not d.time.complete_periods_only:
        time["complete_periods_only"] = False
    default_fill = default_zero_fill(calc)
    if d.time.zero_fill != default_fill:
        time["zero_fill"] = d.time.zero_fill
    out["time"] = time
    if d.breakdowns:
        out["breakdowns"] = list(d.breakdowns)
    if d.unit:
        out["unit"] = d.unit
    if d.decimals:
        out["decimals"] = d.decimals
    out["direction"] = d.direction.value
    if d.target is not None:
        if d.target.trajectory:
            out["target"] = {
                "trajectory": [
                    {"from": s.starts.isoformat(), "value": _number(s.value)}
                    for s in d.target.trajectory
                ]
            }
        elif d.target.value is not None:
            out["target"] = {"value": _number(d.target.value)}
    chart: dict[str, Any] = {}
    if d.chart.type is not ChartType.XMR:
        chart["type"] = d.chart.type.value
    if d.chart.baseline_points is not None:
        chart["baseline_points"] = d.chart.baseline_points
    if not d.chart.screening:
        chart["screening"] = False
    if d.chart.rebases:
        chart["rebases"] = [
            {"date": rb.on.isoformat(), "reason": rb.reason}
            | ({"breakdown": rb.breakdown, "value": rb.value} if rb.breakdown else {})
            for rb in d.chart.rebases
        ]
    if chart:
        out["chart"] = chart
    if d.public:
        out["public"] = True
    if d.suppress_below is not None:
        out["suppress_below"] = d.suppress_below
    return out


def default_zero_fill(calc: Calculation) -> bool:
    """Counts zero-fill by default: no records in a period is a true zero. A sum of
    measurements (tons collected) with no records is missing data, not zero, so it zero-fills
    only when the definition says so."""
    return all(m.aggregate.is_count for m in calc.measures())


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """`{"time": {"grain": "week"}}` -> `{"time.grain": "week"}`: the shape of a readable diff."""
    out: dict[str, Any] = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, list) and data and any(isinstance(v, Mapping | list) for v in data):
        for index, value in enumerate(data):
            out.update(flatten(value, f"{prefix}[{index}]"))
    else:
        out[prefix] = data
    return out


@dataclass(frozen=True)
class Change:
    path: str
    before: Any
    after: Any


def diff_definitions(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """Field-by-field changes between two canonical definitions, in the canonical order."""
    old, new = flatten(before), flatten(after)
    keys = list(new) + [k for k in old if k not in new]
    return [Change(k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)]
