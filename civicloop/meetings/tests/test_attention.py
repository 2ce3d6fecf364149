"""What needs attention: the team's metrics ranked (a special cause of concern, then failing
the target, then stale data, then overdue commentary, then the rest), one breakdown value at
a time, drawn as sparklines that hold only numbers, and only what each person may see."""

from __future__ import annotations

import re
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.utils import timezone

from civicloop.meetings import api, attention, services
from civicloop.meetings.models import Commentary
from civicloop.meetings.tests.conftest import (
    MAJOR,
    SPIKE,
    City,
    add_crew_metrics,
    meeting,
    refresh_all,
    today,
    url,
    weekly_count,
)

pytestmark = pytest.mark.django_db

NUMBER = r"-?\d+(?:\.\d+)?"


def _overdue_commentary(city: City) -> None:
    """Today's meeting asked the lead for the heavy reports' commentary by yesterday."""
    personas = city.personas
    m = meeting(personas, today())
    Commentary.objects.create(
        meeting=m,
        metric=city.heavy,
        requested_of=personas.lead,
        requested_at=timezone.now() - timedelta(days=3),
        due_on=today() - timedelta(days=1),
    )


def test_metrics_are_ranked_concern_failing_stale_commentary_then_the_rest(city: City) -> None:
    _overdue_commentary(city)
    data = api.dashboard_data(city.personas.team, city.personas.lead)
    ranked = [(c["name"], [r["code"] for r in c["reasons"]]) for c in data["cards"]]
    assert ranked == [
        (city.concern.name, ["concern"]),
        (city.failing.name, ["failing"]),
        (city.stale.name, ["stale"]),
        (city.heavy.name, ["commentary"]),
        (city.south.name, []),
    ]
    counts = data["counts"]
    assert (counts["metrics"], counts["attention"]) == (5, 4)
    assert (counts["concern"], counts["failing"], counts["stale"]) == (1, 1, 1)
    assert counts["commentary_overdue"] == 1
    cards = {c["name"]: c for c in data["cards"]}
    concern = cards[city.concern.name]
    assert concern["latest"]["value"] == weekly_count("North", 23) + weekly_count("South", 23) + 30
    assert "above the upper process limit" in concern["variation_sentence"]
    failing = cards[city.failing.name]
    assert failing["target"] == 500 and failing["meets_target"] is False
    assert cards[city.stale.name]["freshness"].startswith("Stale: last loaded 30 days ago")
    assert cards[city.heavy.name]["commentary"]["overdue"] is True


def test_the_dashboard_page_lists_the_cards_in_that_order(city: City, client_as) -> None:  # type: ignore[no-untyped-def]
    _overdue_commentary(city)
    page = client_as("viewer").get(url("dashboard", slug="team-clean"))
    assert page.status_code == 200
    names = re.findall(
        r'<li class="dash-card[^"]*">\s*<h3><a [^>]*>([^<]+)</a>', page.content.decode()
    )
    assert names == [
        m.name for m in (city.concern, city.failing, city.stale, city.heavy, city.south)
    ]
    assert "commentary overdue from Lena Lead" in page.content.decode()


def test_a_breakdown_value_shows_that_series_and_lists_metrics_without_it(city: City) -> None:
    personas = city.personas
    north = api.dashboard_data(personas.team, personas.lead, breakdown="district", value="North")
    assert [(c["name"], c["series"]) for c in north["cards"]] == [(city.concern.name, "North")]
    card = north["cards"][0]
    assert card["latest"]["value"] == weekly_count("North", 23) + SPIKE
    assert card["variation"] == "special_cause_concern"
    assert sorted(north["without_series"]) == sorted(
        m.name for m in (city.failing, city.stale, city.south, city.heavy)
    )
    assert [c["selected"] for c in north["breakdowns"]] == [True, False]
    # South had no spike: the same metric, its South series, needs no attention there.
    south = api.dashboard_data(personas.team, personas.lead, breakdown="district", value="South")
    (card,) = south["cards"]
    assert card["series"] == "South" and card["latest"]["value"] == weekly_count("South", 23)
    assert card["reasons"] == [] and card["variation"] == "common_cause"


def test_an_unknown_breakdown_value_is_refused_naming_it(city: City) -> None:
    with pytest.raises(services.MeetingError) as refused:
        api.dashboard_data(
            city.personas.team, city.personas.lead, breakdown="district", value="East"
        )
    assert refused.value.problems[0][0] == "value"
    assert "district = 'East'" in str(refused.value)


def test_a_sparkline_is_numbers_only_with_its_label_escaped() -> None:
    label = '<script>alert("x")</script> & co'
    svg = attention.sparkline_svg([3.0, None, 5.5, 4.0, 12.0], "special_cause_concern", label)
    assert "<script" not in svg and "&lt;script&gt;" in svg
    root = ElementTree.fromstring(svg)  # noqa: S314 - the product's own drawing
    assert root.get("aria-label") == label and root.get("role") == "img"
    assert [child.tag.rsplit("}", 1)[-1] for child in root] == ["polyline", "circle"]
    polyline, circle = list(root)
    points = polyline.get("points", "").split(" ")
    assert len(points) == 4  # the missing value is left out, not drawn as zero
    assert all(re.fullmatch(rf"{NUMBER},{NUMBER}", p) for p in points)
    for name in ("cx", "cy", "r"):
        assert re.fullmatch(NUMBER, circle.get(name, ""))
    assert circle.get("fill") == "#b45309"  # the latest point in the colour of concern
    assert attention.sparkline_svg([4.0], None, "one point") == ""


def test_a_metric_named_like_markup_is_escaped_on_the_dashboard(city: City, client_as) -> None:  # type: ignore[no-untyped-def]
    from civicloop.meetings.tests.conftest import SOUTH
    from civicloop.metrics import services as metric_services

    name = "<script>alert('owned')</script>"
    metric_services.save_definition({**SOUTH, "name": name}, None, "Renamed.")
    refresh_all()
    page = client_as("lead").get(url("dashboard", slug="team-clean")).content.decode()
    assert "<script>alert('owned')" not in page
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in page
    sparks = re.findall(r'<svg class="sparkline".*?</svg>', page, re.S)
    assert len(sparks) == 5
    assert any('aria-label="&lt;script&gt;' in s for s in sparks)


def test_people_who_see_a_metric_only_because_it_is_public_get_small_counts_hidden(
    city: City,
) -> None:
    public, private = add_crew_metrics(city)
    personas = city.personas
    lead = {c["name"]: c for c in api.dashboard_data(personas.team, personas.lead)["cards"]}
    guest = {c["name"]: c for c in api.dashboard_data(personas.team, personas.guest)["cards"]}
    # The lead sees the latest week's 3 major incidents; the guest sees it is hidden.
    assert lead[public.name]["latest"]["value"] == MAJOR[23 % 7] == 3
    assert lead[public.name]["suppressed"] is False
    assert guest[public.name]["suppressed"] is True
    assert guest[public.name]["latest"]["value"] is None
    assert guest[public.name]["latest"]["text"] == "—"
    cards = attention.cards(personas.team, personas.guest)
    (card,) = [c for c in cards if c.metric == public]
    hidden = [i for i, v in enumerate(card.values) if v is None]
    assert hidden == [i for i in range(len(card.values)) if MAJOR[i % 7] < 5]
    # The metric whose data the guest may not see is not there at all; the lead sees it,
    # with its special cause of concern.
    assert private.name not in guest
    assert lead[private.name]["reasons"][0]["code"] == "concern"
    assert all(c.metric != private for c in cards)


def test_people_with_the_data_see_every_number_of_a_public_metric(city: City) -> None:
    public, _ = add_crew_metrics(city)
    viewer = attention.cards(city.personas.team, city.personas.viewer)
    (card,) = [c for c in viewer if c.metric == public]
    assert card.hidden is False and None not in card.values
