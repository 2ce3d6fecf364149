"""The demo's A3 as a practitioner meets it: Team Clean's dumping pilot taken from the problem
to an adopted countermeasure, with two PDSA cycles whose verdicts come from the demo data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from civicloop.demo.citydata import timeline_for
from civicloop.demo.improvement import METRIC, TITLE
from civicloop.demo.services import load_demo
from civicloop.improvement.models import A3, A3Event, PdsaCycle
from civicloop.improvement.study import NO_SIGNAL, PREDICTED
from civicloop.metrics.models import Annotation, Metric
from civicloop.warehouse import Warehouse

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 11, 18)


@pytest.fixture
def demo(data_dir: Path) -> None:
    load_demo(data_dir, Warehouse.default(), scale=0.05, as_of=AS_OF)


def test_the_dumping_pilot_is_an_a3_whose_cycles_are_judged_on_the_data(
    demo: None, data_dir: Path
) -> None:
    a3 = A3.objects.get(title=TITLE)
    assert a3.state_text == "Closed: adopted"
    one, two = PdsaCycle.objects.filter(countermeasure__a3=a3).order_by("number")
    pilot = timeline_for(AS_OF).pilot_start
    # Cycle 1 (weekend sweeps, before the pilot) changed nothing the chart can see.
    assert one.verdict["signal"] == NO_SIGNAL
    assert one.decision == "adapt"
    # Cycle 2 is the pilot in the data: District 3 shifts down from its start; the rest not.
    assert two.previous == one
    assert two.started_on == pilot
    assert two.verdict["signal"] == PREDICTED
    mine, rest = two.verdict["series"]
    assert mine["label"] == "District 3"
    assert mine["after_mean"] < mine["before_mean"] / 2
    assert rest["signal"] != PREDICTED
    assert "no such shift" in two.verdict["comparison_sentence"]
    # Adopted: the change date is an event on the chart and a rebase with its reason.
    metric = Metric.objects.get(slug=METRIC)
    rebases = metric.current_version.definition["chart"]["rebases"]
    assert [r["date"] for r in rebases] == [pilot.isoformat()]
    assert "A dedicated dumping crew" in rebases[0]["reason"]
    assert two.rebase_version == metric.current_version
    assert Annotation.objects.filter(metric=metric, on=pilot, text__startswith="PDSA 2").exists()

    # Loading the demo again keeps the A3 and its rebase (not undone and redone).
    version = metric.current_version_id
    events = A3Event.objects.count()
    load_demo(data_dir, Warehouse.default(), scale=0.05, as_of=AS_OF)
    metric.refresh_from_db()
    assert metric.current_version_id == version
    assert A3.objects.filter(title=TITLE).count() == 1
    assert A3Event.objects.count() == events
