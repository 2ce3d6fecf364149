"""Saving, agreeing to and computing definitions on the demo city, as its people would."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from civicloop.accounts.models import User
from civicloop.demo.metrics import demo_metric_definitions
from civicloop.demo.services import load_demo
from civicloop.metrics import services
from civicloop.metrics.models import Metric, SignOff
from civicloop.warehouse import Warehouse

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 11, 18)


@pytest.fixture
def demo(data_dir):  # type: ignore[no-untyped-def]
    load_demo(data_dir, Warehouse.default(), scale=0.05, as_of=AS_OF, okrs=False)


def person(key: str) -> User:
    return User.objects.get(email=f"{key}@alderport.example")


def definition(metric_id: str) -> dict[str, Any]:
    data = next(d for d in demo_metric_definitions() if d["id"] == metric_id)
    return copy.deepcopy(data)


def problems_of(data: dict[str, Any], author: User | None = None) -> dict[str, str]:
    with pytest.raises(services.MetricError) as error:
        services.save_definition(data, author, "Trying a change")
    return dict(error.value.problems)


def test_the_demo_shows_agreement_part_way(demo) -> None:  # type: ignore[no-untyped-def]
    metric = Metric.objects.get(slug="dumping-days-to-close-weekly")
    agreement = services.agreement_for(metric)
    # Police's only person on Team Clean is a viewer, who cannot agree: Police is not asked.
    assert agreement.summary == "agreed by 5 of 6 partners"
    assert {o.name for o in agreement.waiting} == {"Downtown Alderport Business Association"}


def test_the_demo_defines_and_computes_every_metric(demo) -> None:  # type: ignore[no-untyped-def]
    assert Metric.objects.count() == len(demo_metric_definitions()) >= 40
    for metric in Metric.objects.all():
        run = metric.runs.first()
        assert run is not None and run.metric_version_id == metric.current_version_id
        total = run.series.get(breakdown="")
        assert total.values and any(v for v in total.values), metric.slug
    weekly = Metric.objects.get(slug="illegal-dumping-requests-weekly").runs.first()
    assert weekly is not None
    districts = {s.value for s in weekly.series.filter(breakdown="district")}
    assert districts == {f"District {n}" for n in range(1, 8)}
    # The as-of day is a Wednesday: the week in progress and the partial month are not shown.
    assert weekly.series.get(breakdown="").periods[-1] == "2026-11-09"
    monthly = Metric.objects.get(slug="people-housed-monthly").runs.first()
    assert monthly is not None and monthly.series.get(breakdown="").periods[-1] == "2026-10-01"


def test_the_pilot_shows_in_district_3_and_nowhere_else(demo) -> None:  # type: ignore[no-untyped-def]
    run = Metric.objects.get(slug="dumping-days-to-close-weekly").runs.first()
    assert run is not None
    d3 = run.series.get(breakdown="district", value="District 3")
    d5 = run.series.get(breakdown="district", value="District 5")
    early = [v for v in d3.values[:40] if v is not None]
    late = [v for v in d3.values[-30:] if v is not None]
    assert sum(early) / len(early) > 7 and sum(late) / len(late) < 4.5
    other = [v for v in d5.values[-30:] if v is not None]
    assert sum(other) / len(other) > 7


def test_a_saved_change_is_a_new_version_and_clears_agreement(demo) -> None:  # type: ignore[no-untyped-def]
    grace, marcus, victor = person("grace.lin"), person("marcus.bell"), person("victor.chen")
    metric = Metric.objects.get(slug="encampment-days-to-close-monthly")
    services.agree(metric, marcus, "Public Works agrees.")
    services.agree(metric, victor)
    agreement = services.agreement_for(metric)
    total = len(metric.partners())
    assert agreement.summary == f"agreed by 2 of {total} partners"
    assert "Public Works" not in [o.name for o in agreement.waiting]
    with pytest.raises(services.MetricError, match="agreed to version 1 already"):
        services.agree(metric, person("sofia.alvarez"))  # also Public Works
    with pytest.raises(services.NotAllowed):
        services.agree(metric, person("priya.nair"))  # a viewer of Team Clean
    data = definition("encampment-days-to-close-monthly")
    data["target"] = {"value": 14}
    _, version = services.save_definition(data, grace, "Target tightened after the pilot")
    assert version is not None and version.number == 2 and version.author == grace
    metric.refresh_from_db()
    assert services.agreement_for(metric).summary == f"agreed by 0 of {total} partners"
    assert SignOff.objects.filter(version__metric=metric, version__number=1).count() == 2  # kept
    history = services.history(metric)
    assert [(c.path, c.before, c.after) for c in history[0]["changes"]] == [
        ("target.value", None, 14)
    ]
    # Saving the same definition again makes no version.
    assert services.save_definition(data, grace, "Again")[1] is None


def test_only_the_steward_may_change_a_definition(demo) -> None:  # type: ignore[no-untyped-def]
    data = definition("dumping-days-to-close-weekly")
    data["name"] = "Something else"
    for key in ("marcus.bell", "amara.okafor", "victor.chen"):
        with pytest.raises(services.NotAllowed, match="Only Grace Lin may change"):
            services.save_definition(data, person(key), "Renaming")
    # Public Works' administrator is the steward here; another organization's admin is not.
    with pytest.raises(services.NotAllowed):
        services.save_definition(data, person("olivia.grant"), "Renaming")


def test_a_new_metric_needs_a_team_member(demo) -> None:  # type: ignore[no-untyped-def]
    data = definition("encampment-requests-weekly")
    data["id"] = "encampments-by-channel"
    with pytest.raises(services.NotAllowed, match="only leads and members of Team Clean"):
        services.save_definition(data, person("priya.nair"), "New")  # a viewer
    metric, version = services.save_definition(data, person("marcus.bell"), "New")
    assert version is not None and version.number == 1 and metric.team.slug == "team-clean"


def test_unknown_names_and_bad_filters_are_refused_field_by_field(demo) -> None:  # type: ignore[no-untyped-def]
    data = definition("encampment-requests-weekly")
    data["dataset"] = "service_request"
    assert "did you mean 'service_requests'?" in problems_of(data)["dataset"]
    data = definition("encampment-requests-weekly")
    data["team"] = "team-cleen"
    data["filter"] = "request_type = 'Encampment"
    data["breakdowns"] = ["district", "ward"]
    found = problems_of(data)
    assert "there is no team 'team-cleen'" in found["team"]
    data["team"] = "team-clean"
    found = problems_of(data)
    assert "Unterminated" in found["filter"] or "unterminated" in found["filter"]
    assert "'ward' is not a column of service_requests" in found["breakdowns[1]"]
    assert Metric.objects.get(slug="encampment-requests-weekly").versions.count() == 1


def test_a_grain_finer_than_the_data_is_refused(demo) -> None:  # type: ignore[no-untyped-def]
    data = definition("people-housed-monthly")
    data["time"]["grain"] = "week"
    found = problems_of(data)
    assert "finer than the data: housing.month has one value per month" in found["time.grain"]
    assert "Choose month, quarter, year" in found["time.grain"]


def test_a_ratio_whose_denominator_is_always_zero_is_refused(demo) -> None:  # type: ignore[no-untyped-def]
    data = definition("app-share-monthly")
    data["measure"]["ratio"]["denominator"]["filter"] = "channel = 'Carrier pigeon'"
    assert "is zero in every period" in problems_of(data)["measure.ratio.denominator"]


def test_restricted_data_is_not_shown_to_a_team_outside_its_agreement(demo) -> None:  # type: ignore[no-untyped-def]
    data = definition("shootings-weekly")
    data["id"] = "shootings-for-team-clean"
    data["team"] = "team-clean"
    found = problems_of(data)
    assert "Shootings and homicides is restricted data" in found["team"]
    assert "Downtown Alderport Business Association" in found["team"]
    assert "to add them to the agreement at /data/shootings/agreement/" in found["team"]
    assert (
        "priya.nair" not in found.get("steward", "")
        and "is a viewer of Team Clean" in found["steward"]
    )
    data = definition("shootings-weekly")
    data.pop("suppress_below")
    assert "needs suppress_below" in problems_of(data)["public"]


def test_refresh_is_incremental(demo) -> None:  # type: ignore[no-untyped-def]
    report = services.refresh()
    assert report.computed == [] and len(report.unchanged) == Metric.objects.count()
    data = definition("dumping-days-to-close-weekly")
    data["decimals"] = 2
    services.save_definition(data, None, "More decimals")
    report = services.refresh()
    assert report.computed == ["dumping-days-to-close-weekly"]
    assert len(services.refresh(force=True).computed) == Metric.objects.count()


def test_a_new_load_recomputes_only_the_metrics_that_read_it(demo, data_dir) -> None:  # type: ignore[no-untyped-def]
    from civicloop.datasets.models import Dataset
    from civicloop.datasets.services import load_arrow_version
    from civicloop.demo.citydata import generate_city_data

    housing_metrics = set(
        Metric.objects.filter(dataset__slug="housing").values_list("pk", flat=True)
    )
    before = {m.pk: m.runs.first().pk for m in Metric.objects.all()}  # type: ignore[union-attr]
    table = generate_city_data(seed=99, scale=0.05, as_of=AS_OF)["housing"]
    load_arrow_version(Dataset.objects.get(slug="housing"), table, "Corrected", "seed 99")
    after = {m.pk: m.runs.first().pk for m in Metric.objects.all()}  # type: ignore[union-attr]
    changed = {pk for pk in after if after[pk] != before[pk]}
    assert changed == housing_metrics and len(changed) == 3


def test_the_steward_must_edit_the_team_and_the_owner_be_on_it(demo) -> None:  # type: ignore[no-untyped-def]
    data = definition("encampment-requests-weekly")
    data["id"] = "encampments-again"
    data["steward"] = "victor.chen@alderport.example"  # a guest of Team Clean
    data["owner"] = "housing"  # nobody from Housing is on Team Clean
    found = problems_of(data, person("grace.lin"))
    assert "Victor Chen is a guest of Team Clean" in found["steward"]
    assert "Housing & Community Development has nobody on Team Clean" in found["owner"]


def test_a_new_metric_without_a_steward_is_stewarded_by_its_author(demo) -> None:  # type: ignore[no-untyped-def]
    data = definition("encampment-requests-weekly")
    data["id"] = "encampments-mine"
    data.pop("steward")
    metric, _ = services.save_definition(data, person("marcus.bell"), "New")
    assert metric.steward == person("marcus.bell")


def test_an_unchanged_definition_is_no_change_whoever_sends_it(demo) -> None:  # type: ignore[no-untyped-def]
    """An export imported as is (`metrics import --as`) must not be refused file by file."""
    metric, version = services.save_definition(
        definition("shootings-weekly"), person("victor.chen"), "Re-import"
    )
    assert version is None and metric.versions.count() == 1
