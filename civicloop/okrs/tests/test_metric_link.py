"""A key result that tracks a metric moves by itself when new data is loaded and the metric is
refreshed; a closed quarter's key result keeps the value it closed with. Restricted data stays
restricted: whoever may not see the metric sees neither its value nor where it moved."""

from __future__ import annotations

from datetime import date

import pytest

from civicloop.metrics import services as metric_services
from civicloop.okrs import api, services
from civicloop.okrs.models import Change, ChangeAction, CheckIn, KeyResult
from civicloop.okrs.quarters import Quarter
from civicloop.okrs.services import Decision, OkrError
from civicloop.okrs.tests.conftest import FIRST_MONDAY, at, litter_csv, measure
from civicloop.testing import load_csv

pytestmark = pytest.mark.django_db

FEB_2 = date(2026, 2, 2)  # the Monday after the first four weeks


def linked(personas, objective, metric, **overrides) -> KeyResult:  # type: ignore[no-untyped-def]
    data = measure(
        title="Fewer litter reports each week",
        metric=metric.slug,
        start_value="10",
        target_value="4",
        unit="",
    )
    data.update(overrides)
    return services.create_key_result(personas.lead, objective, personas.team, data)


def load_february(personas, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A fifth week, 3 reports a day (21), appended to January's 28 reports."""
    run = load_csv(
        personas.restricted_dataset,
        litter_csv(7, per_day=3, first=FEB_2, start_id=100),
        tmp_path,
        name="feb.csv",
        user=personas.lead,
        mode="append",
    )
    assert run.status == "succeeded", run.summary
    metric_services.refresh()  # the worker would; loading already triggered it


def test_a_linked_key_result_takes_the_metrics_latest_value(
    personas, objective, litter_metric
) -> None:  # type: ignore[no-untyped-def]
    kr = linked(personas, objective, litter_metric)
    assert kr.current_value == 7 and kr.current_period == date(2026, 1, 26)
    assert kr.unit == "reports"  # from the metric's definition
    assert kr.progress() == pytest.approx(0.5)  # 10 -> 7 of the way to 4


def test_a_linked_key_result_moves_by_itself_when_new_data_is_loaded(
    personas, objective, litter_metric, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    kr = linked(personas, objective, litter_metric)
    assert kr.current_value == 7
    load_february(personas, tmp_path)
    kr.refresh_from_db()
    assert kr.current_value == 21 and kr.current_period == FEB_2
    assert kr.progress() == 0.0  # 21 reports: further from 4 than the start
    (entry,) = Change.objects.filter(key_result=kr, action=ChangeAction.REFRESHED)
    assert entry.who is None and entry.team == personas.team
    assert entry.changes == [{"field": "value", "before": "7 reports", "after": "21 reports"}]
    assert (
        entry.reason
        == "“Litter reports per week” was refreshed; its latest period starts 02 Feb 2026."
    )
    assert api.change_row(entry)["who"] == "The data refresh"
    # Refreshing again with nothing new moves nothing and records nothing.
    metric_services.refresh(force=True)
    assert Change.objects.filter(key_result=kr, action=ChangeAction.REFRESHED).count() == 1


def test_a_closed_quarters_key_result_does_not_move(
    personas, objective, litter_metric, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    q1 = linked(personas, objective, litter_metric)
    q2 = linked(personas, objective, litter_metric, quarter="2026-Q2", start_value="")
    assert q2.start_value == 7  # the metric's value before 2026 Q2 started
    services.close_quarter(
        personas.lead,
        personas.team,
        Quarter(2026, 1),
        "Reports fell in January.",
        {q1.pk: Decision("50", "completed")},
        date(2026, 4, 1),
    )
    load_february(personas, tmp_path)
    q1.refresh_from_db()
    q2.refresh_from_db()
    assert q1.current_value == 7 and q1.current_period == date(2026, 1, 26)
    assert not Change.objects.filter(key_result=q1, action=ChangeAction.REFRESHED).exists()
    assert q2.current_value == 21  # the open quarter's key result did move
    assert Change.objects.filter(key_result=q2, action=ChangeAction.REFRESHED).exists()


def test_a_linked_key_result_with_nothing_to_start_from_needs_a_start(
    personas, objective, litter_metric
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OkrError) as error:
        linked(personas, objective, litter_metric, start_value="")
    assert error.value.field == "start_value"
    assert error.value.message == (
        "“Litter reports per week” has no value before 2026 Q1 to start from; give the start value."
    )


def test_a_check_in_on_a_linked_key_result_takes_the_value_from_the_data(
    personas, objective, litter_metric
) -> None:  # type: ignore[no-untyped-def]
    kr = linked(personas, objective, litter_metric)
    checkin = services.check_in(
        personas.editor, kr, confidence="at_risk", note="Bins full", value="999"
    )
    assert checkin.from_metric and checkin.value == 7
    kr.refresh_from_db()
    assert kr.current_value == 7
    assert CheckIn.objects.get().value == 7


def test_a_linked_key_results_status_comes_from_the_data(
    personas, objective, litter_metric
) -> None:  # type: ignore[no-untyped-def]
    kr = linked(personas, objective, litter_metric)
    services.check_in(personas.editor, kr, confidence="on_track", note="")
    data = api.kr_detail_data(kr, personas.viewer)["key_result"]
    assert data["status"]["source"] == "data"
    # Seven reports every week, against a target of 4: the target is below the process limits.
    assert data["status"]["code"] == "consistent_fail"
    assert data["status"]["confidence"] == "off_track"
    assert "the target (4 reports) lies below the lower process limit" in data["status"]["sentence"]
    # A target of 8 reports, from 12: every week passes it.
    easy = linked(
        personas, objective, litter_metric, title="Under 8", start_value="12", target_value="8"
    )
    status = api.kr_detail_data(easy, personas.viewer)["key_result"]["status"]
    assert (status["code"], status["confidence"]) == ("consistent_pass", "on_track")
    assert data["confidence"] == "on_track"  # the owner's judgement is still shown beside it
    assert data["metric"]["slug"] == "litter-reports-weekly"


def test_the_outsider_sees_neither_the_value_nor_where_it_moved(
    personas, objective, litter_metric, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Team Clean's objective is public, so the outsider reads the key result, but the litter
    data is restricted and not shared with Police."""
    kr = linked(personas, objective, litter_metric)
    services.check_in(personas.editor, kr, confidence="on_track", note="", at=at(FIRST_MONDAY))
    load_february(personas, tmp_path)
    kr.refresh_from_db()
    outsider = personas.outsider
    data = api.kr_detail_data(kr, outsider)
    row = data["key_result"]
    assert row["current"] is None and row["current_text"] == "Withheld"
    assert row["progress"] is None and row["status"]["source"] == "withheld"
    assert row["metric"] == {"slug": None, "name": "a metric you may not see", "url": None}
    # The start came from the data too (its value before the quarter): withheld as well.
    assert row["start"] is None and row["start_text"] == "Withheld"
    assert all(c["value"] is None for c in row["checkins"])
    shown = repr(row["history"]) + repr(api.changes_data(outsider, date(2000, 1, 1)))
    assert "21 reports" not in shown and "7 reports" not in shown
    assert "Litter reports per week" not in shown
    # The guest's organization has a sharing agreement: the guest sees it all.
    guest = api.kr_detail_data(kr, personas.guest)["key_result"]
    assert guest["current"] == 21
    assert any("21 reports" in repr(h["changes"]) for h in guest["history"])
