"""Operations on metrics: save a definition as a new version, agree to it, compute its series.

Views, the CLI and the demo all come through here. A definition is checked in three layers,
and every problem comes back as (field, message) so the form, the YAML import and the API can
point at the field: `definition.parse_definition` (shape), this module (teams, organizations,
datasets, agreements: the app database), and `compiler.check_against_schema` (columns, types,
filters, the engine). A definition that fails any layer is not saved.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from civicloop.accounts.models import User
from civicloop.datasets.engine.schema import schema_from_descriptor
from civicloop.datasets.models import Dataset, DatasetVersion, Sensitivity
from civicloop.metrics import compiler, engines
from civicloop.metrics.definition import (
    DefinitionError,
    Grain,
    MetricDefinition,
    definition_to_dict,
    diff_definitions,
    parse_definition,
)
from civicloop.metrics.engines import Engine, EngineError, connect_engine, duckdb_engine
from civicloop.metrics.models import (
    Metric,
    MetricVersion,
    Series,
    SeriesRun,
    SignOff,
    organization_may_use,
)
from civicloop.metrics.signals import series_stored
from civicloop.organizations.models import Organization, Team
from civicloop.warehouse import Warehouse

log = logging.getLogger(__name__)


class MetricError(Exception):
    """A definition or an action was refused; `problems` are (field, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{f}: {m}" if f else m for f, m in problems))


class NotAllowed(MetricError):
    """The person may not do this (a 403 in the browser)."""


@dataclass
class Resolved:
    definition: MetricDefinition
    team: Team
    owner: Organization
    steward: User | None
    dataset: Dataset
    population: Dataset | None


# --- the engine -------------------------------------------------------------------------------


def default_engine() -> Engine:
    """The configured engine; for DuckDB a fresh cursor on the warehouse's one connection."""
    url = settings.METRIC_ENGINE
    warehouse = Warehouse.default()
    if url in ("", "duckdb"):
        return duckdb_engine(warehouse.cursor())
    return connect_engine(url)


def table_for(engine: Engine, version: DatasetVersion) -> Any:
    """The version's table on the engine, copied there first if the engine is not DuckDB."""
    if engine.name == "duckdb":
        schema = compiler.ibis_schema(schema_from_descriptor(version.schema))
        return engine.declared_table(version.table_name, schema)
    # The copy's name says which warehouse and which load it came from, so a second civicloop
    # (or a rebuilt warehouse reusing table names) never reads another's copy.
    origin = f"{settings.WAREHOUSE_PATH}:{version.pk}:{version.created_at.isoformat()}"
    name = f"{version.table_name}_{hashlib.sha256(origin.encode()).hexdigest()[:10]}"
    source = version.table_name

    def arrow() -> Any:
        with Warehouse.default().read() as cursor:
            return cursor.sql(f'SELECT * FROM "{source}"').to_arrow_table()  # noqa: S608

    engine.ensure_table(name, arrow)
    return engine.table(name)


# --- checking --------------------------------------------------------------------------------


def resolve(definition: MetricDefinition, author: User | None = None) -> Resolved:
    """Find the team, organizations, steward and datasets a definition names.

    With an author, teams and datasets they may not see are treated as missing, and never
    suggested: a refusal must not reveal that they exist.
    """
    problems: list[tuple[str, str]] = []
    teams = Team.objects.visible_to(author) if author is not None else Team.objects.all()
    datasets = Dataset.objects.visible_to(author) if author is not None else Dataset.objects.all()
    team = teams.filter(slug=definition.team).first()
    if team is None:
        known = ", ".join(teams.values_list("slug", flat=True)[:20]) or "none you are on"
        problems.append(
            (
                "team",
                f"there is no team {definition.team!r}{_close(definition.team, teams)} "
                f"(teams: {known})",
            )
        )
    owner = Organization.objects.filter(slug=definition.owner).first()
    if owner is None:
        known = ", ".join(Organization.objects.values_list("slug", flat=True)[:20]) or "none"
        close = _close(definition.owner, Organization.objects.all())
        problems.append(
            (
                "owner",
                f"there is no organization {definition.owner!r}{close} (organizations: {known})",
            )
        )
    steward = None
    if definition.steward:
        steward = User.objects.filter(email__iexact=definition.steward).first()
        if steward is None:
            problems.append(
                ("steward", f"nobody signs in as {definition.steward!r}: give a person's email")
            )
    dataset = datasets.filter(slug=definition.dataset).first()
    if dataset is None:
        problems.append(("dataset", _no_dataset(definition.dataset, datasets)))
    population = None
    spec = definition.calculation.population
    if spec is not None:
        population = datasets.filter(slug=spec.dataset).first()
        if population is None:
            problems.append(
                ("measure.rate.population.dataset", _no_dataset(spec.dataset, datasets))
            )
    if problems:
        raise MetricError(problems)
    assert team is not None and owner is not None and dataset is not None
    return Resolved(definition, team, owner, steward, dataset, population)


def _no_dataset(slug: str, datasets: QuerySet[Dataset]) -> str:
    names = list(datasets.values_list("slug", flat=True))
    hint = _close(slug, datasets)
    return f"there is no dataset {slug!r}{hint}; datasets you may use: {', '.join(names) or 'none'}"


def _close(name: str, queryset: QuerySet[Any]) -> str:
    """` (did you mean 'x'?)` when one slug of the queryset is close to the name."""
    import difflib

    slugs = list(queryset.values_list("slug", flat=True))
    close = difflib.get_close_matches(name, slugs, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_exposure(resolved: Resolved) -> list[tuple[str, str]]:
    """A metric shows its dataset's numbers to its team (and, if public, to everyone): refuse a
    definition that would show restricted data to an organization outside the agreement."""
    problems: list[tuple[str, str]] = []
    for dataset, where in ((resolved.dataset, "dataset"), (resolved.population, "population")):
        if dataset is None:
            continue
        outside = [
            o for o in _team_organizations(resolved.team) if not organization_may_use(dataset, o)
        ]
        if outside:
            names = ", ".join(o.name for o in outside)
            problems.append(
                (
                    "team" if where == "dataset" else "measure.rate.population.dataset",
                    f"{dataset.name} is {dataset.get_sensitivity_display().split(':')[0].lower()} "
                    f"data and its agreement does not cover {names}, who are on team "
                    f"{resolved.team.name}. Ask the dataset's steward (or {dataset.owner.name}'s "
                    f"administrator) to add them to the agreement at "
                    f"{dataset.get_absolute_url()}agreement/, or define the metric for a team "
                    "the agreement covers",
                )
            )
        if (
            resolved.definition.public
            and dataset.sensitivity != Sensitivity.PUBLIC
            and resolved.definition.suppress_below is None
        ):
            problems.append(
                (
                    "public",
                    f"{dataset.name} is not public data: a public metric on it needs "
                    "suppress_below (e.g. 5) so that small counts about people are hidden",
                )
            )
    return problems


def _team_organizations(team: Team) -> list[Organization]:
    ids = team.memberships.values_list("person__organization", flat=True)
    return list(Organization.objects.filter(pk__in=ids))


def check_definition(
    resolved: Resolved, engine: Engine | None = None, found: list[tuple[str, str]] | None = None
) -> None:
    """Everything but the shape: exposure, the schema, the data's grain, ratios' denominators.
    `found` are problems found already (the roles), reported with these."""
    problems = [*(found or []), *check_exposure(resolved)]
    definition = resolved.definition
    schemas = {resolved.dataset.slug: resolved.dataset.table_schema()}
    if resolved.population is not None:
        schemas[resolved.population.slug] = resolved.population.table_schema()
    engine_name = engine.name if engine else engines.engine_name(settings.METRIC_ENGINE)
    try:
        compiler.check_against_schema(definition, schemas, engine_name)
    except DefinitionError as error:
        problems.extend(error.problems)
    if problems:
        raise MetricError(problems)
    version = resolved.dataset.current_version
    if version is None:
        return  # nothing loaded yet: the data checks run at the first refresh
    engine = engine or default_engine()
    table = table_for(engine, version)
    data_grain = compiler.infer_data_grain(engine, table, definition.time.column)
    if definition.time.grain.rank < data_grain.rank:
        coarser = [g.value for g in Grain if g.rank >= data_grain.rank]
        raise MetricError(
            [
                (
                    "time.grain",
                    f"{definition.time.grain.value} is finer than the data: "
                    f"{definition.dataset}.{definition.time.column} has one value per "
                    f"{data_grain.value}. Choose {', '.join(coarser)}",
                )
            ]
        )
    if definition.calculation.denominator is not None:
        result = _compute(resolved, engine)
        total = result.total()
        zeros = [p.period for p in total.points if p.denominator == 0]
        if total.points and len(zeros) == len(total.points):
            raise MetricError(
                [
                    (
                        "measure.ratio.denominator",
                        "is zero in every period, so the ratio has no value anywhere. Check "
                        "the denominator's filter and column",
                    )
                ]
            )


# --- saving ----------------------------------------------------------------------------------


def parse(data: Any) -> MetricDefinition:
    try:
        return parse_definition(data)
    except DefinitionError as error:
        raise MetricError(error.problems) from None


def may_create(user: User, team: Team) -> bool:
    return team.can_edit(user)


def save_definition(
    data: Mapping[str, Any] | MetricDefinition,
    author: User | None,
    reason: str,
    *,
    check_permission: bool = True,
    engine: Engine | None = None,
) -> tuple[Metric, MetricVersion | None]:
    """Check a definition and save it as the metric's next version.

    Returns the version made, or None when nothing changed. A new version clears agreement:
    partners are asked again. `author` None (the demo, a trusted import) skips the permission
    check, as does check_permission=False.
    """
    definition = data if isinstance(data, MetricDefinition) else parse(data)
    if not reason.strip():
        raise MetricError([("reason", "say why the definition changes; it goes in the history")])
    metric = Metric.objects.filter(slug=definition.id).first()
    checked = check_permission and author is not None
    if checked and metric is None and not definition.steward:
        definition = definition.with_changes(steward=author.email)  # type: ignore[union-attr]
    canonical = definition_to_dict(definition)
    current = metric.current_version if metric is not None else None
    # Unchanged is not a change, whoever reads it back (an export imported as is, say).
    if metric is not None and current is not None and current.definition == canonical:
        return metric, None
    resolved = resolve(definition, author if check_permission else None)
    if checked:
        assert author is not None
        _check_may_save(author, metric, resolved)
    check_definition(resolved, engine, check_roles(resolved))
    with transaction.atomic():
        if metric is None:
            metric = Metric(slug=definition.id)
        _copy_fields(metric, resolved)
        metric.save()
        number = (metric.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = MetricVersion.objects.create(
            metric=metric, number=number, definition=canonical, author=author, reason=reason
        )
        metric.current_version = version
        metric.save(update_fields=["current_version"])
    return metric, version


def check_roles(resolved: Resolved) -> list[tuple[str, str]]:
    """The steward changes the definition, so they must be able to edit the team's work; the
    owner answers for it, so it must be one of the team's organizations."""
    problems: list[tuple[str, str]] = []
    team = resolved.team
    steward = resolved.steward
    if steward is not None and not steward.is_superuser:
        role = team.role_of(steward)
        if role is None or not role.can_edit:
            what = f"a {role.label.lower()} of {team.name}" if role else f"not on {team.name}"
            problems.append(
                (
                    "steward",
                    f"{steward.full_name} is {what}; the steward must be a lead or member of "
                    "the team (change their role on the team page, or name someone else)",
                )
            )
    organizations = _team_organizations(team)
    if resolved.owner not in organizations:
        names = ", ".join(sorted(o.slug for o in organizations)) or "none yet"
        problems.append(
            (
                "owner",
                f"{resolved.owner.name} has nobody on {team.name}; the owner must be one of the "
                f"team's organizations: {names}",
            )
        )
    return problems


def _check_may_save(author: User, metric: Metric | None, resolved: Resolved) -> None:
    if metric is not None:
        if not metric.can_change(author):
            steward = metric.steward.full_name if metric.steward else "its steward"
            raise NotAllowed(
                [("", f"Only {steward} may change this definition (the steward's role).")]
            )
        if metric.team_id != resolved.team.pk and not resolved.team.can_edit(author):
            raise NotAllowed([("team", f"you are not a member of {resolved.team.name}")])
        return
    if not may_create(author, resolved.team):
        raise NotAllowed(
            [("team", f"only leads and members of {resolved.team.name} may add its metrics")]
        )


def _copy_fields(metric: Metric, resolved: Resolved) -> None:
    definition = resolved.definition
    metric.name = definition.name
    metric.team = resolved.team
    metric.owner = resolved.owner
    metric.steward = resolved.steward
    metric.dataset = resolved.dataset
    metric.population_dataset = resolved.population
    metric.is_public = definition.public


# --- agreement -------------------------------------------------------------------------------


@dataclass
class Agreement:
    version: MetricVersion
    agreed: list[SignOff]
    waiting: list[Organization]

    @property
    def summary(self) -> str:
        total = len(self.agreed) + len(self.waiting)
        return f"agreed by {len(self.agreed)} of {total} partner{'s' if total != 1 else ''}"


def agreement_for(metric: Metric, version: MetricVersion | None = None) -> Agreement:
    version = version or metric.current_version
    assert version is not None
    agreed = list(version.signoffs.select_related("organization", "person"))
    done = {s.organization_id for s in agreed}
    waiting = [o for o in metric.partners() if o.pk not in done]
    return Agreement(version, agreed, waiting)


def agree(metric: Metric, user: User, comment: str = "") -> SignOff:
    """The person's organization agrees to the current version."""
    org = metric.agreeing_organization(user)
    if org is None:
        raise NotAllowed(
            [
                (
                    "",
                    "Only members of the metric's team (not viewers) can agree, for their own "
                    "organization.",
                )
            ]
        )
    version = metric.current_version
    assert version is not None
    existing = version.signoffs.filter(organization=org).first()
    if existing is not None:
        raise MetricError(
            [
                (
                    "",
                    f"{org.name} agreed to version {version.number} already "
                    f"({existing.at:%d %b %Y}).",
                )
            ]
        )
    return SignOff.objects.create(
        version=version, organization=org, person=user, comment=comment.strip()[:2000]
    )


def history(metric: Metric) -> list[dict[str, Any]]:
    """Each version with what changed from the one before, newest first."""
    versions = list(metric.versions.select_related("author").order_by("number"))
    out: list[dict[str, Any]] = []
    previous: dict[str, Any] = {}
    for version in versions:
        changes = diff_definitions(previous, version.definition) if previous else []
        out.append({"version": version, "changes": changes})
        previous = version.definition
    return list(reversed(out))


# --- computing -------------------------------------------------------------------------------


CoverageCache = dict[tuple[int, str], compiler.Coverage]


def _compute(
    resolved: Resolved, engine: Engine, coverages: CoverageCache | None = None
) -> compiler.SeriesResult:
    dataset_version = resolved.dataset.current_version
    assert dataset_version is not None
    table = table_for(engine, dataset_version)
    # Many metrics read the same table and time column: measure its coverage once a refresh.
    key = (dataset_version.pk, resolved.definition.time.column)
    coverage = (coverages or {}).get(key)
    if coverage is None:
        coverage = compiler.measure_coverage(
            engine,
            table,
            resolved.definition.time.column,
            dataset_version.data_as_of,
            timezone.localtime(dataset_version.created_at).date(),
        )
        if coverages is not None:
            coverages[key] = coverage
    population = None
    if resolved.population is not None and resolved.population.current_version is not None:
        population = table_for(engine, resolved.population.current_version)
    return compiler.compute_series(resolved.definition, engine, table, coverage, population)


def fingerprint(metric: Metric, engine_name: str) -> str:
    dataset_version = metric.dataset.current_version_id
    population = metric.population_dataset.current_version_id if metric.population_dataset else ""
    return f"m{metric.current_version_id}:d{dataset_version}:p{population or ''}:{engine_name}"


@dataclass
class RefreshReport:
    computed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


RefreshProgress = Callable[[str, int, int], None]  # (metric slug, done, total)


def refresh(
    metrics: Iterable[Metric] | None = None,
    *,
    force: bool = False,
    engine: Engine | None = None,
    progress: RefreshProgress | None = None,
) -> RefreshReport:
    """Compute the series of each metric whose definition or data changed since last time."""
    started = time.perf_counter()
    queryset = Metric.objects.all() if metrics is None else metrics
    if isinstance(queryset, QuerySet):
        queryset = queryset.select_related(
            "current_version", "dataset__current_version", "population_dataset__current_version"
        )
    chosen = list(queryset)
    report = RefreshReport()
    engine = engine or default_engine()
    coverages: CoverageCache = {}
    try:
        # A commit per metric (in store_result), not one for the whole refresh: the worker
        # refreshes beside the web threads, and SQLite lets one writer in at a time.
        for index, metric in enumerate(chosen):
            if progress:
                progress(metric.slug, index, len(chosen))
            _refresh_one(metric, engine, force, report, coverages)
        if progress:
            progress("", len(chosen), len(chosen))
    finally:
        engine.close()
    report.seconds = time.perf_counter() - started
    return report


def _refresh_one(
    metric: Metric, engine: Engine, force: bool, report: RefreshReport, coverages: CoverageCache
) -> None:
    if metric.current_version is None or metric.dataset.current_version is None:
        report.unchanged.append(metric.slug)
        return
    mark = fingerprint(metric, engine.name)
    latest = metric.runs.only("fingerprint").first()
    if not force and latest is not None and latest.fingerprint == mark:
        report.unchanged.append(metric.slug)
        return
    started = time.perf_counter()
    try:
        definition = metric.current_version.parsed()
        resolved = Resolved(
            definition,
            metric.team,
            metric.owner,
            metric.steward,
            metric.dataset,
            metric.population_dataset,
        )
        result = _compute(resolved, engine, coverages)
    except (DefinitionError, EngineError) as error:
        report.failed[metric.slug] = str(error)
        return
    except Exception as error:  # an engine error on one metric must not stop the others
        log.exception("computing %s failed", metric.slug)
        report.failed[metric.slug] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
        return
    store_result(metric, result, mark, engine.name, time.perf_counter() - started)
    report.computed.append(metric.slug)


def store_result(
    metric: Metric, result: compiler.SeriesResult, mark: str, engine_name: str, seconds: float
) -> SeriesRun:
    ratio = metric.current_version is not None and bool(
        metric.current_version.definition.get("measure", {}).keys() & {"ratio", "rate"}
    )
    periods = [p.isoformat() for p in result.periods]
    assert metric.current_version is not None
    with transaction.atomic():
        run = SeriesRun.objects.create(
            metric=metric,
            metric_version=metric.current_version,
            dataset_version=metric.dataset.current_version,
            population_version=(
                metric.population_dataset.current_version if metric.population_dataset else None
            ),
            fingerprint=mark,
            engine=engine_name,
            seconds=seconds,
            first_day=result.coverage.first_day,
            last_day=result.coverage.last_day,
            complete_through=result.coverage.complete_through,
            rows=result.coverage.rows,
            warnings=result.warnings,
        )
        Series.objects.bulk_create(
            Series(
                run=run,
                breakdown=series.breakdown,
                value=series.value,
                periods=periods,
                values=[p.value for p in series.points],
                numerators=[p.numerator for p in series.points] if ratio else [],
                denominators=[p.denominator for p in series.points] if ratio else [],
            )
            for series in result.series
        )
        # Keep the last few runs for lineage; older ones only take space.
        old = list(metric.runs.values_list("pk", flat=True)[5:])
        if old:
            SeriesRun.objects.filter(pk__in=old).delete()
    series_stored.send(sender=Metric, metric=metric, run=run)
    return run


def refresh_for_dataset(dataset: Dataset) -> RefreshReport | None:
    """After a load or rollback: recompute the metrics that read this dataset."""
    affected = Metric.objects.filter(dataset=dataset) | Metric.objects.filter(
        population_dataset=dataset
    )
    affected = affected.distinct()
    if not affected.exists():
        return None
    return refresh(affected)


def latest_run(metric: Metric) -> SeriesRun | None:
    return metric.runs.select_related("dataset_version", "metric_version").first()
