"""Loading the demo city: people and teams into the app database, data into the warehouse."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone

from civicloop.accounts.models import User
from civicloop.datasets.engine.schema import schema_from_arrow
from civicloop.datasets.models import Dataset
from civicloop.datasets.services import create_dataset, load_arrow_version, set_agreement
from civicloop.demo import city
from civicloop.organizations.models import Organization
from civicloop.warehouse import Warehouse, quote_identifier

ProgressCallback = Callable[[str, int, int], None]  # (table, tables done, tables total)


@dataclass(frozen=True)
class DemoResult:
    city: city.CityCounts
    table_rows: dict[str, int]
    password: str
    metrics: int = 0


def load_demo(
    data_dir: Path,
    warehouse: Warehouse,
    seed: int = 2026,
    scale: float = 1.0,
    as_of: date | None = None,
    progress: ProgressCallback | None = None,
    okrs: bool = True,
) -> DemoResult:
    """Create (or refresh in place) the demo city. Safe to run again: nothing is duplicated."""
    from civicloop.demo.citydata import generate_city_data

    password = city.demo_password(data_dir)
    counts = city.create_city(password)
    tables = generate_city_data(seed=seed, scale=scale, as_of=as_of)
    fingerprint = f"demo seed={seed} scale={scale} as_of={as_of or date.today()}"
    rows: dict[str, int] = {}
    for index, spec in enumerate(city.DATASETS):
        if progress:
            progress(spec.slug, index, len(tables))
        table = tables[spec.slug]
        dataset = register_dataset(spec, table, warehouse)
        # Same seed, scale and day: the current version already holds this data.
        load_arrow_version(dataset, table, f"Demo city data ({fingerprint})", fingerprint)
        rows[spec.slug] = table.num_rows
    if progress:
        progress("", len(tables), len(tables))
    metrics = define_demo_metrics(as_of or date.today(), okrs=okrs)
    return DemoResult(counts, rows, password, metrics)


def define_demo_metrics(as_of: date | None = None, okrs: bool = True) -> int:
    """Save the demo's metric definitions (a new version only where one changed), mark the
    city's events on their charts, then compute whatever is not up to date; then the OKRs,
    whose linked key results read the fresh values. Returns how many metrics the demo has."""
    from civicloop.demo.meetings import define_demo_meetings
    from civicloop.demo.metrics import demo_metric_definitions
    from civicloop.demo.okrs import define_demo_okrs
    from civicloop.metrics.services import refresh, save_definition

    definitions = demo_metric_definitions()
    for data in definitions:
        save_definition(_keep_rebases(data), None, "Defined by the demo city.")
    _demo_signoffs()
    _demo_annotations(as_of or date.today())
    refresh()
    if okrs:  # tests of the metrics alone leave the OKRs out, to load faster
        from civicloop.demo.improvement import define_demo_a3s

        define_demo_a3s(as_of or date.today())
        refresh()  # the adopted PDSA cycle rebased its metric: a new version to compute
        _demo_signoffs()  # the partners agree to the rebased version too
        define_demo_okrs(as_of or date.today())
        define_demo_meetings(as_of or timezone.localdate())  # the app's day, as meetings see it
    return len(definitions)


def _keep_rebases(data: dict[str, Any]) -> dict[str, Any]:
    """A demo definition keeps the rebases its metric has gained since (an adopted PDSA
    cycle's), so loading the demo again does not undo them."""
    from civicloop.metrics.models import Metric

    metric = Metric.objects.filter(slug=data["id"]).select_related("current_version").first()
    if metric is None or metric.current_version is None or data.get("chart", {}).get("rebases"):
        return data
    rebases = metric.current_version.definition.get("chart", {}).get("rebases")
    if not rebases:
        return data
    return {**data, "chart": {**data.get("chart", {}), "rebases": rebases}}


def _demo_annotations(as_of: date) -> None:
    """The events behind the demo's stories, marked on the charts they show up in."""
    from civicloop.demo.citydata import timeline_for
    from civicloop.metrics.models import Annotation, Metric

    timeline = timeline_for(as_of)
    events = (
        ("illegal-dumping-requests-weekly", timeline.pilot_start, "Dumping pilot (District 3)"),
        ("tree-maintenance-requests-weekly", timeline.spike_week, "Winter storm"),
        ("blocked-sidewalk-requests-weekly", timeline.spike_week, "Winter storm"),
    )
    author = User.objects.get(email=city.email_for("grace.lin"))
    for slug, day, text in events:
        metric = Metric.objects.filter(slug=slug).first()
        if metric is not None:
            Annotation.objects.update_or_create(
                metric=metric, text=text, defaults={"on": day, "author": author}
            )


# Who has agreed to what, so the demo shows agreement part-way: Team Clean's headline
# measures are agreed by most partners, and the business association is still reading them.
_SIGNOFFS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "dumping-days-to-close-weekly",
        ("grace.lin", "amara.okafor", "olivia.grant", "leila.haddad", "tom.becker"),
    ),
    ("illegal-dumping-requests-weekly", ("grace.lin", "amara.okafor", "olivia.grant")),
    ("encampment-requests-weekly", ("leila.haddad", "grace.lin")),
    ("shootings-weekly", ("james.oconnor", "amara.okafor", "malik.johnson", "erin.walsh")),
    ("people-housed-monthly", ("hannah.kim", "rosa.delgado")),
    ("customer-satisfaction-monthly", ("olivia.grant", "sofia.alvarez")),
)


def _demo_signoffs() -> None:
    from civicloop.metrics.models import Metric
    from civicloop.metrics.services import agree

    for slug, keys in _SIGNOFFS:
        metric = Metric.objects.get(slug=slug)
        assert metric.current_version is not None
        done = set(metric.current_version.signoffs.values_list("organization__slug", flat=True))
        for key in keys:
            person = User.objects.get(email=city.email_for(key))
            if person.organization is not None and person.organization.slug not in done:
                agree(metric, person, "Agreed at the team's definitions workshop.")
                done.add(person.organization.slug)


def register_dataset(spec: city.DemoDataset, table: object, warehouse: Warehouse) -> Dataset:
    """The demo's tables are datasets like any other: owned, stewarded, shared, versioned."""
    owner = Organization.objects.get(slug=spec.owner)
    steward = User.objects.get(email=city.email_for(spec.steward))
    dataset = Dataset.objects.filter(slug=spec.slug).first()
    if dataset is None:
        # Demos made before datasets existed left plain tables under these names.
        with warehouse.write() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {quote_identifier(spec.slug)}")
        dataset = create_dataset(
            slug=spec.slug,
            name=spec.name,
            owner=owner,
            steward=steward,
            schema=schema_from_arrow(table),
            schema_confirmed=True,
            sensitivity=spec.sensitivity,
            update_frequency=spec.frequency,
            description=spec.description,
        )
    if spec.shared_with and not hasattr(dataset, "agreement"):
        partners = list(Organization.objects.filter(slug__in=spec.shared_with))
        set_agreement(dataset, partners, spec.purpose, date.today() + timedelta(days=365), steward)
    return dataset
