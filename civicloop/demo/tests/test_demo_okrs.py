"""The demo's OKRs as a lead meets them: a year under way, its past quarters closed, key results
that follow the data, check-ins that are due, and nothing duplicated when the demo runs again."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from civicloop.accounts.models import User
from civicloop.demo import city
from civicloop.demo.okrs import define_demo_okrs, seeded_quarters
from civicloop.demo.services import load_demo
from civicloop.okrs import api, services
from civicloop.okrs.models import (
    Change,
    ChangeAction,
    CheckIn,
    KeyResult,
    Mission,
    Objective,
    Outcome,
    QuarterClose,
    policy_for,
)
from civicloop.okrs.quarters import Quarter
from civicloop.organizations.models import Team
from civicloop.warehouse import Warehouse

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 11, 18)  # in Q4: three quarters closed, the fourth under way
TEAMS = ("team-clean", "team-housed", "team-safe", "customer-services-team")
LEADS = {
    "team-clean": "grace.lin",
    "team-housed": "hannah.kim",
    "team-safe": "james.oconnor",
    "customer-services-team": "olivia.grant",
}


def person(key: str) -> User:
    return User.objects.get(email=city.email_for(key))


@pytest.fixture
def demo(data_dir: Path) -> None:
    load_demo(data_dir, Warehouse.default(), scale=0.05, as_of=AS_OF)


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Mission, Objective, KeyResult, CheckIn, QuarterClose, Change)
    }


def test_every_team_has_a_year_of_okrs_seeded_once(demo: None) -> None:
    missions = list(Mission.objects.all())
    assert 3 <= len(missions) <= 4
    assert all(m.public_value and m.owner == person("amara.okafor") for m in missions)
    for slug in TEAMS:
        team = Team.objects.get(slug=slug)
        own = Objective.objects.filter(team=team, year=2026)
        assert 2 <= own.count() <= 3, slug
        quarters = set(KeyResult.objects.filter(team=team, year=2026).values_list("quarter"))
        assert quarters == {(1,), (2,), (3,), (4,)}, slug
    krs = KeyResult.objects.filter(year=2026)
    assert krs.exclude(metric=None).count() >= 12  # several linked each quarter
    assert krs.filter(metric=None, kind="measure").exists()
    assert krs.filter(kind="milestone").count() >= 2
    # a coalition objective, a private one, and work contributing to another team's objective
    shared = [
        {t.slug for t in o.teams()}
        for o in Objective.objects.filter(year=2026).exclude(partner_teams=None).distinct()
    ]
    assert {"team-clean", "team-housed"} in shared
    private = Objective.objects.get(year=2026, is_private=True)
    assert private not in Objective.objects.visible_to(person("grace.lin"))
    assert private in Objective.objects.visible_to(person("luis.moreno"))
    contributing = [
        kr for kr in krs.select_related("objective") if kr.team_id != kr.objective.team_id
    ]
    assert "customer-services-team" in {kr.team.slug for kr in contributing}
    # a team contributes to another's objective once it is shared with it
    assert all(kr.team in kr.objective.teams() for kr in contributing)
    # the team's governance lets members change objectives; a member did, mid-year, saying why
    assert policy_for(Team.objects.get(slug="team-clean")).objectives_changed_by == "members"
    change = Change.objects.get(action=ChangeAction.CHANGED, objective__isnull=False)
    assert change.who == person("sofia.alvarez") and change.reason
    assert Quarter.containing(timezone.localdate(change.at)) == Quarter(2026, 3)
    assert change.objective is not None and "every district" in change.objective.title
    # the whole history lies before the as-of date
    assert not Change.objects.filter(at__date__gte=AS_OF).exists()
    # the demo runs again in place: nothing is added on the same day
    before = _counts()
    assert define_demo_okrs(AS_OF) == before["KeyResult"]
    assert _counts() == before


def test_past_quarters_are_closed_scored_and_read_only(demo: None) -> None:
    for slug in TEAMS:
        closes = QuarterClose.objects.filter(team__slug=slug, year=2026).order_by("quarter")
        assert [c.quarter for c in closes] == [1, 2, 3], slug
        for close in closes:
            assert close.reflection and close.closed_by == person(LEADS[slug])
            end = close.period.end
            assert end <= timezone.localdate(close.closed_at) <= end + timedelta(days=3)
    closed = KeyResult.objects.filter(year=2026, quarter__lte=3)
    assert not closed.filter(score=None).exists()
    assert set(closed.values_list("outcome", flat=True)) == {
        Outcome.COMPLETED,
        Outcome.CARRIED,
        Outcome.DROPPED,
    }
    assert closed.filter(outcome=Outcome.DROPPED).count() == 1
    for kr in closed.filter(outcome=Outcome.CARRIED):
        assert kr.carried_into.filter(quarter=kr.quarter + 1).exists()
    assert not KeyResult.objects.filter(year=2026, quarter=4).exclude(outcome="").exists()
    # a closed quarter is read-only
    kr = closed.filter(quarter=3, metric=None, kind="measure").first()
    assert kr is not None and kr.owner is not None
    with pytest.raises(services.OkrError, match="read-only"):
        services.check_in(kr.owner, kr, confidence="on_track", value=1)


def test_key_results_follow_the_data_and_check_ins_are_due(demo: None) -> None:
    quarter = Quarter.containing(AS_OF)
    linked = KeyResult.objects.filter(year=2026).exclude(metric=None).select_related("metric")
    for kr in linked:
        assert kr.metric is not None
        assert kr.current_value is not None
        assert kr.current_value == services.metric_value(kr.metric, kr.period)[0], kr.title
    # the teams' pages: statuses from the data vary; so do the owners' confidences
    codes, confidences = set(), set()
    for slug in TEAMS:
        data = api.team_okrs_data(Team.objects.get(slug=slug), quarter, person(LEADS[slug]), AS_OF)
        for objective in data["objectives"]:
            for row in objective["key_results"]:
                if row["status"]["source"] == "data":
                    codes.add(row["status"]["code"])
                confidences.add(row["confidence"])
    assert len(codes - {None}) >= 2, codes
    assert {"on_track", "at_risk"} <= confidences
    # every key result has weekly check-ins by its owner; a few owners are behind
    current = KeyResult.objects.filter(year=2026, quarter=4)
    for kr in current:
        assert set(kr.checkins.values_list("author", flat=True)) == {kr.owner_id}
        assert kr.checkins.exclude(note="").exists()
    due = services.due_checkins(today=AS_OF)
    assert 1 <= len(due) <= 5
    assert all(d.days_overdue(AS_OF) >= 7 for d in due)
    assert {d.key_result.team.slug for d in due} >= {"team-clean"}
    late = {d.key_result.pk for d in due}
    for kr in current.exclude(pk__in=late):
        last = kr.checkins.first()
        assert last is not None and (AS_OF - timezone.localdate(last.at)).days < 7
    assert CheckIn.objects.count() < 1000  # weekly, not thousands


def test_as_of_in_the_first_quarter_still_shows_two_closed_quarters(data_dir: Path) -> None:
    as_of = date(2027, 2, 10)
    load_demo(data_dir, Warehouse.default(), scale=0.05, as_of=as_of)
    assert seeded_quarters(as_of) == [Quarter(2026, 3), Quarter(2026, 4), Quarter(2027, 1)]
    for slug in TEAMS:
        closed = QuarterClose.objects.filter(team__slug=slug)
        assert {(c.year, c.quarter) for c in closed} == {(2026, 3), (2026, 4)}, slug
        assert Objective.objects.filter(team__slug=slug, year=2027).exists()
        assert KeyResult.objects.filter(team__slug=slug, year=2027, quarter=1).exists()
    # nothing carries over the end of the OKR year
    assert not KeyResult.objects.filter(year=2026, quarter=4, outcome=Outcome.CARRIED).exists()
    assert services.due_checkins(today=as_of)
