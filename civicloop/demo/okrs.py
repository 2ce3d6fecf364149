"""The demo city's OKRs: missions, a year of objectives, and quarters of key results with their
weekly check-ins and quarter closes, so a lead who opens the demo finds an OKR year under way.

Everything goes through civicloop.okrs.services as the demo's people, with the roles the city
gives them, so the permission rules hold; the history is backdated with the services' `at=`.
Key results linked to a metric take targets read from the metric's latest run, chosen so that
the data shows a mix: some consistently pass, some consistently fail, most hit and miss.

The seeding is keyed on titles (missions; objectives by team and year; key results by
objective, team and quarter) and only adds what is missing: check-ins after a key result's
latest one, quarters that have ended since the last run are closed. Running the demo again on
the same day adds nothing; running it a week later adds that week's check-ins.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from civicloop.accounts.models import User
from civicloop.demo import city
from civicloop.metrics.definition import Direction
from civicloop.metrics.models import Metric
from civicloop.metrics.services import latest_run
from civicloop.okrs import services
from civicloop.okrs.models import (
    Change,
    ChangeAction,
    CheckIn,
    Confidence,
    KeyResult,
    KeyResultKind,
    Mission,
    Objective,
    OkrPolicy,
    Outcome,
    QuarterClose,
)
from civicloop.okrs.quarters import Quarter, year_start
from civicloop.organizations.models import Team

# --- what the city plans ----------------------------------------------------------------------


@dataclass(frozen=True)
class MissionSpec:
    key: str
    title: str
    public_value: str
    description: str = ""


MISSIONS: tuple[MissionSpec, ...] = (
    MissionSpec(
        "clean",
        "Clean neighbourhoods",
        "Streets, alleys and parks in every district free of dumped rubbish, and bins collected "
        "on the day, so residents can be proud of where they live.",
        "Team Clean's work on illegal dumping, encampments' impact on neighbours and refuse "
        "collection.",
    ),
    MissionSpec(
        "safe",
        "Safe from violence",
        "Fewer residents shot or killed, and children who walk to school without fear, starting "
        "with the neighbourhoods that suffer most.",
    ),
    MissionSpec(
        "housed",
        "Everyone housed",
        "Every resident has a safe, stable home, and nobody who loses one stays on the street or "
        "in a shelter for long.",
    ),
    MissionSpec(
        "services",
        "Services residents can count on",
        "When residents ask the city for help they are answered quickly, the job gets done, and "
        "they are told when it is.",
    ),
)
MISSION_LEADER = "amara.okafor"  # an administrator of a city department: a city leader


@dataclass(frozen=True)
class KrSpec:
    """One key result the demo plans, quarter after quarter."""

    title: str
    team: str  # the team doing the work (may differ from the objective's team)
    owner: str
    # "every": a new key result each quarter; "first": only in the first quarter the demo seeds
    # (then carried over while not done, if `carry`); "chain": carried over while not achieved,
    # and written afresh in a quarter nothing was carried into.
    when: str = "every"
    kind: str = KeyResultKind.MEASURE
    metric: str = ""  # a demo metric id: the value follows the data
    rule: str = ""  # how a linked key result's start and target are read from the data
    unit: str = ""
    decimals: int = 0
    # A measure checked in by hand: its value before the first quarter, how far each quarter's
    # target reaches beyond the quarter's start, a ceiling, and the progress each quarter ends
    # with (by quarter number). `monotone` for counts that only grow.
    start: float = 0.0
    step: float = 0.0
    cap: float | None = None
    fates: tuple[float, ...] = (1.0,)
    monotone: bool = True
    carry: bool = False
    drop: str = ""  # dropped at its first close, with this note
    done_after: int | None = 0  # milestones: done in the nth quarter of its chain (None: never)
    lapses: bool = False  # the owner has stopped checking in this quarter: it shows as overdue
    # A linked key result's owner judges on periods over at least this long ago (the latest
    # weeks of a median time to close look fast while their slow requests are still open).
    settle_days: int = 0
    notes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectiveChange:
    """A change to the objective in the middle of the year, by someone the governance allows."""

    title: str
    description: str
    by: str
    reason: str


@dataclass(frozen=True)
class ObjectiveSpec:
    team: str
    mission: str
    title: str
    owner: str
    description: str
    krs: tuple[KrSpec, ...]
    partners: tuple[str, ...] = ()
    private: bool = False
    change: ObjectiveChange | None = None


CLEAN, HOUSED, SAFE, SERVICE = "team-clean", "team-housed", "team-safe", "customer-services-team"
LEADS = {CLEAN: "grace.lin", HOUSED: "hannah.kim", SAFE: "james.oconnor", SERVICE: "olivia.grant"}
# Each team checks in on its own weekday (Monday is 0), or the next one when as-of falls on it,
# so that the last check-in is at most six days old and nothing is due but what lapsed.
CHECKIN_DAY = {CLEAN: 1, HOUSED: 2, SAFE: 3, SERVICE: 0}
MEMBERS_GOVERN = CLEAN  # this team lets its members write and change objectives

OBJECTIVES: tuple[ObjectiveSpec, ...] = (
    ObjectiveSpec(
        CLEAN,
        "clean",
        "Dumped rubbish cleared within days",
        "grace.lin",
        "Residents report a dumped mattress once and it is gone within the week. The District 3 "
        "pilot (dedicated crews, a photo to the resident on close) shows it can be done.",
        (
            KrSpec(
                "Median days to close a dumping report down to 5, citywide",
                CLEAN,
                "marcus.bell",
                when="chain",
                metric="dumping-days-to-close-weekly",
                rule="five_days",
                decimals=1,
                carry=True,
                settle_days=21,
                notes={
                    "on_track": (
                        "Median {value} this week. District 3 crews still close most "
                        "reports in two or three days.",
                        "{value}. Bulky-item backlog cleared on Saturday overtime.",
                    ),
                    "at_risk": (
                        "Median {value}. District 3 is fast; Districts 5 and 6 are where "
                        "the citywide number is stuck.",
                        "{value}. Lost a crew to the street-sweeping rota for three days; "
                        "catching up.",
                    ),
                    "off_track": (
                        "Still {value} against {target}. The pilot works in District 3, but "
                        "one district cannot move the city: we need pilot crews in 5 and 6.",
                        "{value}. Honest view: {target} will not happen this quarter without "
                        "more crews. Raised at the leads' meeting.",
                    ),
                    "better": (
                        "The latest week reads {value}, but many of its reports are still "
                        "open (the metric's caveat). Judging by the weeks before: about "
                        "{typical}.",
                    ),
                },
            ),
            KrSpec(
                "Pilot crews and photo-on-close running in Districts 5 and 6",
                CLEAN,
                "grace.lin",
                when="first",
                kind=KeyResultKind.MILESTONE,
                carry=True,
                done_after=1,
                notes={
                    "on_track": (
                        "Crew schedules agreed with the union; two vans ordered.",
                        "Photo-on-close tested in District 5 with two crews. Residents like it.",
                        "Training booked for the District 6 crews.",
                    ),
                    "at_risk": (
                        "Vans delayed by the supplier; the District 6 start slips.",
                        "Still waiting on the budget transfer for the second crew.",
                    ),
                    "off_track": (
                        "Will not finish this quarter: the second crew is not hired yet. "
                        "Proposing to carry it over.",
                    ),
                    "done": (
                        "Live in Districts 5 and 6 from Monday. Residents get a photo when their "
                        "site is cleared.",
                    ),
                },
            ),
            KrSpec(
                "Dumping hot spots with a camera and signs",
                CLEAN,
                "sofia.alvarez",
                unit="sites",
                start=0,
                step=6,
                fates=(0.85, 1.0, 0.65, 1.0),
                lapses=True,
                notes={
                    "on_track": (
                        "{n} hot spots now have a camera and signs; two more surveyed on Thursday.",
                        "{value} done. Neighbours on Elm Street asked for one too.",
                    ),
                    "at_risk": (
                        "{n} of {target}. Waiting for the power company to connect two poles.",
                        "{value}; the camera order is stuck with purchasing.",
                    ),
                    "off_track": (
                        "{value}, well short of {target}. Purchasing wants a new tender; "
                        "escalated to Grace.",
                    ),
                },
            ),
        ),
        change=ObjectiveChange(
            "Dumped rubbish cleared within days, in every district",
            "Residents report a dumped mattress once and it is gone within the week, whichever "
            "district they live in. The District 3 pilot (dedicated crews, a photo to the "
            "resident on close) roughly halved its time to close; the team now rolls it out.",
            "sofia.alvarez",
            "The District 3 pilot worked; at the mid-year review the team agreed the objective "
            "is now every district, not the pilot.",
        ),
    ),
    ObjectiveSpec(
        CLEAN,
        "clean",
        "Bins collected on the day, and put right fast when missed",
        "grace.lin",
        "Households' carts are collected on their day; when one is missed, it is picked up "
        "within two days and the resident need not call twice.",
        (
            KrSpec(
                "Missed collections back down from the holiday peak, and kept down",
                CLEAN,
                "daniel.reyes",
                metric="missed-collections-per-10k-carts",
                rule="holiday_peak",
                decimals=1,
                notes={
                    "on_track": (
                        "{n} missed per 10,000 carts last week; ordinary weeks stay under "
                        "{target}.",
                        "Hauler back on normal routes: {value}.",
                    ),
                    "at_risk": (
                        "{value}. One District 5 route missed twice; the hauler's "
                        "supervisor is on it.",
                    ),
                    "off_track": ("{value}, above {target}. Meeting the hauler.",),
                    "worse": (
                        "Holiday week: {value}, as every holiday week is. Asked the "
                        "hauler again for the extra Saturday crew.",
                    ),
                },
            ),
            KrSpec(
                "Missed-collection reports passed to the hauler the same day",
                SERVICE,
                "olivia.grant",
                unit="%",
                start=70,
                step=8,
                cap=98,
                fates=(1.0, 0.8, 1.0, 0.9),
                monotone=False,
                notes={
                    "on_track": (
                        "{value} passed on the same day. The new hauler queue in the CRM works.",
                        "{value} same day; Friday afternoons are still the weak spot.",
                    ),
                    "at_risk": (
                        "{value}: two agents off sick, and the hauler's inbox bounced on Tuesday.",
                    ),
                    "off_track": (
                        "{value}. The hauler changed their intake address without "
                        "telling us; fixed now.",
                    ),
                },
            ),
        ),
        partners=(SERVICE,),  # the 311 Service Team's key result counts here
    ),
    ObjectiveSpec(
        CLEAN,
        "clean",
        "Encampments resolved with an offer of a home, not only a clean-up",
        "grace.lin",
        "Team Clean and Team Housed visit together: neighbours see fewer encampments, and the "
        "people living in them are offered shelter or housing, not moved on.",
        (
            KrSpec(
                "Fewer encampment reports from neighbours",
                CLEAN,
                "leila.haddad",
                metric="encampment-requests-weekly",
                rule="typical_down",
                notes={
                    "on_track": (
                        "{n} encampment reports last week. Joint visits with outreach are "
                        "cutting repeat calls.",
                        "{n} reports; the Riverside site closed with everyone placed.",
                    ),
                    "at_risk": (
                        "{n} reports; two new sites by the freeway. Outreach comes with us "
                        "on Wednesday.",
                    ),
                    "off_track": (
                        "{n} reports a week, far from {target}. We need shelter places to offer, "
                        "not only clean-ups.",
                    ),
                },
            ),
            KrSpec(
                "Encampment visits ending with an offer of shelter or housing accepted",
                HOUSED,
                "samuel.osei",
                unit="%",
                start=20,
                step=5,
                cap=60,
                fates=(0.6, 1.0, 0.8, 1.0),
                monotone=False,
                lapses=True,
                notes={
                    "on_track": (
                        "{value} of visits ended with an offer accepted. Having a bed to offer "
                        "on the day makes the difference.",
                    ),
                    "at_risk": (
                        "{value}; shelter was full three nights this week, so we had nothing to "
                        "offer.",
                    ),
                    "off_track": ("{value}. Without beds we are only moving people on.",),
                },
            ),
        ),
        partners=(HOUSED,),
    ),
    ObjectiveSpec(
        HOUSED,
        "housed",
        "More people moved from the street into a home of their own",
        "hannah.kim",
        "Rapid rehousing and supportive housing placements up, with landlords willing to rent "
        "to voucher holders.",
        (
            KrSpec(
                "More people housed each month",
                HOUSED,
                "luis.moreno",
                metric="people-housed-monthly",
                rule="up_twelve",
                notes={
                    "on_track": (
                        "{value} housed last month. Two landlords came through the "
                        "guarantee scheme.",
                    ),
                    "at_risk": (
                        "{value} housed; the target is {target}. Vouchers wait on inspections.",
                    ),
                    "off_track": (
                        "{value} housed. The inspection backlog is the bottleneck: households "
                        "approved and waiting.",
                    ),
                },
            ),
            KrSpec(
                "Landlords signed up to the voucher guarantee",
                HOUSED,
                "hannah.kim",
                unit="landlords",
                start=0,
                step=12,
                fates=(0.75, 1.0, 0.9, 0.6),
                notes={
                    "on_track": (
                        "{value} signed. The breakfast with the rental association "
                        "brought in three.",
                        "{value} signed; the damage guarantee is what persuades them.",
                    ),
                    "at_risk": ("{n} of {target}. Two large landlords still with their lawyers.",),
                    "off_track": ("{value}. Rents went up and interest dropped.",),
                },
            ),
            KrSpec(
                "Navigation centre site on Harbor Street approved",
                HOUSED,
                "hannah.kim",
                when="first",
                kind=KeyResultKind.MILESTONE,
                done_after=None,
                drop="Dropped: the site failed the flood-zone review. The money moves to rapid "
                "rehousing places instead.",
                notes={
                    "on_track": ("Site visit with planning done; report to council next month.",),
                    "at_risk": ("The flood-zone review raised questions about Harbor Street.",),
                    "off_track": (
                        "Flood-zone review says no. Proposing to move the money to rapid "
                        "rehousing.",
                    ),
                },
            ),
        ),
    ),
    ObjectiveSpec(
        HOUSED,
        "housed",
        "Understand why people return to shelter within a year",
        "hannah.kim",
        "An internal case review with the case workers, before any change is announced. Private "
        "to the team because it discusses individual households.",
        (
            KrSpec(
                "Returns to shelter reviewed case by case",
                HOUSED,
                "luis.moreno",
                unit="cases",
                start=0,
                step=10,
                fates=(1.0, 0.8, 1.0, 0.7),
                notes={
                    "on_track": (
                        "{value} reviewed. Pattern so far: people return when the first "
                        "rent increase lands.",
                        "{value} reviewed; most returns follow a lost job, not a lost voucher.",
                    ),
                    "at_risk": ("{n} of {target}: case workers busy with winter intake.",),
                    "off_track": ("{value}. Records from before 2024 are on paper.",),
                },
            ),
        ),
        private=True,
    ),
    ObjectiveSpec(
        SAFE,
        "safe",
        "Fewer shootings in the neighbourhoods that suffer most",
        "james.oconnor",
        "Focused deterrence and violence interruption in Districts 5 and 6, with the community "
        "partners who know the young people at risk.",
        (
            KrSpec(
                "Fewer shootings, week by week",
                SAFE,
                "priya.nair",
                metric="shootings-weekly",
                rule="typical_down",
                notes={
                    "on_track": (
                        "{value} last week. Interrupters were out in District 6 both "
                        "weekend nights.",
                        "{value}; the call-in session reached 14 young men.",
                    ),
                    "at_risk": (
                        "{value}; a retaliation risk in District 5 after Saturday. "
                        "Interrupters briefed.",
                    ),
                    "off_track": (
                        "{value}. Warm nights are hard; asked for extra outreach shifts.",
                    ),
                },
            ),
            KrSpec(
                "Young people at highest risk in weekly contact with a violence interrupter",
                SAFE,
                "samuel.osei",
                unit="people",
                start=40,
                step=15,
                fates=(0.8, 1.0, 0.7, 0.9),
                lapses=True,
                notes={
                    "on_track": (
                        "{n} young people in weekly contact. Eastbay's two new interrupters "
                        "started.",
                    ),
                    "at_risk": ("{n} of {target}; referrals from schools slowed down.",),
                    "off_track": ("{value}. We lost contact with several after the move.",),
                },
            ),
        ),
    ),
    ObjectiveSpec(
        SAFE,
        "safe",
        "Children walk to school safely in District 6",
        "james.oconnor",
        "Parents at two District 6 schools asked for safe routes: volunteers on the routes every "
        "school day, agreed with the schools and the families.",
        (
            KrSpec(
                "Safe routes agreed with both District 6 schools and their parents",
                SAFE,
                "james.oconnor",
                when="first",
                kind=KeyResultKind.MILESTONE,
                done_after=0,
                notes={
                    "on_track": (
                        "Walked the routes with the principals.",
                        "Parents' evening at Lincoln Elementary: routes agreed in principle.",
                    ),
                    "done": ("Both schools and the parents' groups signed off the four routes.",),
                },
            ),
            KrSpec(
                "School days with Safe Passage volunteers on all four routes",
                SAFE,
                "daniel.reyes",
                unit="%",
                start=50,
                step=10,
                cap=95,
                fates=(0.9, 0.7, 1.0, 0.8),
                monotone=False,
                notes={
                    "on_track": (
                        "{value} of school days fully covered. Six new volunteers from the "
                        "church on 8th Street.",
                    ),
                    "at_risk": ("{value}: flu week, and two volunteers dropped out.",),
                    "off_track": ("{value}. Route 3 has had nobody on Fridays.",),
                },
            ),
        ),
    ),
    ObjectiveSpec(
        SERVICE,
        "services",
        "Residents told when their request is done",
        "olivia.grant",
        "Survey comments most often ask: tell me when it is done. Every closed request ends with "
        "an update to the resident.",
        (
            KrSpec(
                "More residents satisfied with how their request was handled",
                SERVICE,
                "kwame.asante",
                metric="customer-satisfaction-monthly",
                rule="satisfaction",
                decimals=1,
                notes={
                    "on_track": (
                        "{value} satisfied last month. Comments mention the close-out texts.",
                    ),
                    "at_risk": (
                        "{value} satisfied against {target}. Duplicates closed within the hour "
                        "still annoy people.",
                    ),
                    "off_track": ("{value}. Slow pothole repairs drag the score down.",),
                },
            ),
            KrSpec(
                "Closed requests with an update sent to the resident",
                SERVICE,
                "sofia.alvarez",
                unit="%",
                start=35,
                step=10,
                cap=90,
                fates=(1.0, 0.9, 0.8, 1.0),
                lapses=True,
                notes={
                    "on_track": (
                        "{value} of closed requests sent an update. Public Works now closes "
                        "from the van.",
                    ),
                    "at_risk": ("{value}; Parks still closes in batches on Fridays.",),
                    "off_track": ("{value}. The text provider was down for two days.",),
                },
            ),
        ),
    ),
    ObjectiveSpec(
        SERVICE,
        "services",
        "Easy to reach 311, first time",
        "olivia.grant",
        "Residents get through quickly on the phone, and can follow their request online.",
        (
            KrSpec(
                "Calls answered within 60 seconds",
                SERVICE,
                "kwame.asante",
                unit="%",
                start=64,
                step=4,
                cap=90,
                fates=(0.7, 1.0, 0.8, 0.9),
                monotone=False,
                notes={
                    "on_track": ("{value} answered within a minute. The new rota helps.",),
                    "at_risk": ("{value}: Monday mornings overflow.",),
                    "off_track": ("{value}. Two vacancies unfilled.",),
                },
            ),
            KrSpec(
                "Request status page live in the app",
                SERVICE,
                "olivia.grant",
                when="first",
                kind=KeyResultKind.MILESTONE,
                carry=True,
                done_after=1,
                notes={
                    "on_track": ("Design tested with residents at the library.",),
                    "at_risk": ("Vendor's release slipped two weeks.",),
                    "off_track": ("Not this quarter: the CRM upgrade comes first.",),
                    "done": ("Live. Residents can follow their request in the app.",),
                },
            ),
        ),
    ),
)

GENERIC_NOTES: dict[str, tuple[str, ...]] = {
    "on_track": (
        "Steady week: {value}.",
        "On course for {target}.",
        "{value}. No surprises this week.",
    ),
    "at_risk": (
        "Behind where we hoped by now ({value}); no new blockers, just slow.",
        "{value}, with {target} to reach. Talking it through at the huddle.",
    ),
    "off_track": (
        "{value}, well short of {target}. We need help to unblock this.",
        "{value}. Off track; raised with the leads.",
    ),
    # a linked key result's latest period far from the ones before
    "better": (
        "{value} last week, better than the weeks before (about {typical}). One good week is "
        "not a trend.",
    ),
    "worse": ("{value} last week, worse than the weeks before (about {typical}). Watching it.",),
}
GENERIC_MILESTONE_NOTES: dict[str, tuple[str, ...]] = {
    "on_track": ("On plan.", "Next step booked."),
    "at_risk": ("Slipping; the next step waits on another department.", "Waiting on a sign-off."),
    "off_track": ("Will not be done this quarter.", "Stuck; asked the leads for help."),
    "kept": ("Done, and running smoothly.", "Done. Nothing new to report."),
}

REFLECTIONS: dict[str, tuple[str, str, str, str]] = {
    CLEAN: (
        "Winter is our quiet season and we used it to prepare the rollout. The citywide median "
        "barely moved: the District 3 pilot works, the other districts have not changed yet.",
        "Spring brought the usual rise in dumping. Cameras went in faster once purchasing "
        "cleared the order; the pilot's rollout is the thing that will move the citywide number.",
        "Summer peak. District 3 held its gains while reports rose everywhere. Next quarter we "
        "judge the rollout in Districts 5 and 6 on the data, not on our impressions.",
        "The pilot's gains held through the year. Next year's objective starts from the "
        "rollout, and the hauler's holiday crews are in the new contract.",
    ),
    HOUSED: (
        "Placements were slow while inspections backed up; the guarantee scheme is what "
        "brought landlords in.",
        "More landlords, but the inspection backlog still sets the pace. We will ask for a "
        "second inspector.",
        "Summer placements were steady. The case review shows returns follow rent increases: "
        "we will test a rent top-up next quarter.",
        "A year of steady placements without the navigation centre. Rapid rehousing got the "
        "money, and the numbers followed.",
    ),
    SAFE: (
        "A quiet winter, as always; we used it to recruit interrupters and agree the school "
        "routes.",
        "Shootings rose with the weather, as every spring. Contact with the young people at "
        "highest risk is the lead measure we trust.",
        "The hardest quarter of the year. The weeks with interrupters out at night were the "
        "quieter ones; we will staff every weekend next summer.",
        "The year ends calmer than it started, but three years of data say: do not read one "
        "quiet quarter as a trend.",
    ),
    SERVICE: (
        "The close-out texts started; satisfaction did not move yet, and the survey says why: "
        "duplicates closed without anyone going out.",
        "Updates to residents are now routine in Public Works. The phones are the weak spot.",
        "The status page went live, and calls asking 'what happened to my request?' fell.",
        "We ask residents what they want, and we did most of it. Next year: the phones.",
    ),
}


# --- the data behind the linked key results ---------------------------------------------------


@dataclass
class _Series:
    metric: Metric
    periods: list[date]
    ends: list[date]  # when each period is over
    values: list[float | None]

    def before(self, day: date, n: int) -> list[float]:
        """The values of the last n periods that started before `day`."""
        known = [v for p, v in zip(self.periods, self.values, strict=True) if p < day]
        return [v for v in known if v is not None][-n:]

    def known_on(self, day: date, n: int = 1) -> list[float]:
        """The values of the last n periods that were over by `day`."""
        known = [v for e, v in zip(self.ends, self.values, strict=True) if e <= day]
        return [v for v in known if v is not None][-n:]

    def typical_on(self, day: date) -> float | None:
        """What the owner reads as the current level on `day`: the median of the last three
        weeks, or the last month."""
        weekly = len(self.periods) > 1 and (self.periods[-1] - self.periods[-2]).days <= 7
        recent = self.known_on(day, 3 if weekly else 1)
        return statistics.median(recent) if recent else None


def _series(metric: Metric) -> _Series | None:
    run = latest_run(metric)
    total = run.series.filter(breakdown="").first() if run else None
    if total is None or not total.periods:
        return None
    periods = [date.fromisoformat(p) for p in total.periods]
    ends = periods[1:]
    step = periods[-1] - periods[-2] if len(periods) > 1 else timedelta(days=7)
    ends.append(periods[-1] + step)
    values = [None if v is None else float(v) for v in total.values]
    return _Series(metric, periods, ends, values)


def _linked_values(spec: KrSpec, data: _Series, quarter: Quarter) -> tuple[float, float] | None:
    """(start, target) for a linked key result, read from the data before the quarter, or None
    when the data gives no sensible target this quarter."""
    places = spec.decimals
    start = services.metric_value_before(data.metric, quarter.start)
    recent = data.before(quarter.start, 13)
    if start is None or not recent:
        return None
    typical = statistics.median(recent)
    if spec.rule == "five_days":  # the metric's own target; the data says it is out of reach
        target = 5.0 if start > 5.5 else round(start * 0.8, places)
    elif spec.rule == "holiday_peak":  # from the last holiday week's peak to the ordinary level
        target = float(math.ceil(typical * 1.45))
        peaks = [v for v in data.before(quarter.start, 30) if v > target + 1]
        if not peaks:
            return None
        start = round(peaks[-1], places)
    elif spec.rule == "typical_down":  # a noisy weekly count: start from a typical week
        start = float(round(typical))
        target = float(round(typical * 0.85))
        if target >= start:
            target = start - 1
        if target <= 0:
            return None
    elif spec.rule == "up_twelve":
        target = float(round(max(start, statistics.median(recent[-6:])) * 1.12, places))
    elif spec.rule == "satisfaction":
        target = 60.0 if start < 58.5 else round(start + 2.5, places)
    else:
        raise ValueError(f"unknown rule {spec.rule!r}")
    start = round(start, places)
    # A small demo (--scale) can leave too few events for a target to differ from the start,
    # or to move the way the metric counts as better: then this quarter has no such KR.
    better = data.metric.definition().direction
    if (
        target == start
        or (better is Direction.HIGHER_IS_BETTER and target < start)
        or (better is Direction.LOWER_IS_BETTER and target > start)
    ):
        return None
    return start, target


# --- seeding ----------------------------------------------------------------------------------


def seeded_quarters(as_of: date) -> list[Quarter]:
    """The current OKR year's quarters up to as_of's, preceded by enough of the year before
    that at least two quarters have closed."""
    current = Quarter.containing(as_of)
    quarters = [Quarter(current.year, n) for n in range(1, current.number + 1)]
    while len(quarters) < 3:
        quarters.insert(0, quarters[0].previous())
    return quarters


def define_demo_okrs(as_of: date) -> int:
    """Seed (or bring up to date) the demo's OKRs. Returns how many key results exist."""
    with transaction.atomic():
        _Seeder(as_of).run()
    return KeyResult.objects.count()


@dataclass(frozen=True)
class _Planned:
    """One check-in to make."""

    at: datetime
    value: float | None
    done: bool | None
    confidence: str
    note: str


def _yes(value: bool | None) -> str:
    return "yes" if value else "no"


def _moment(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


class _Seeder:
    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.current = Quarter.containing(as_of)
        self.quarters = seeded_quarters(as_of)
        keys = {o.owner for o in OBJECTIVES} | {k.owner for o in OBJECTIVES for k in o.krs}
        keys |= {MISSION_LEADER, *LEADS.values()}
        keys |= {o.change.by for o in OBJECTIVES if o.change}
        self.people = {
            u.email.split("@")[0]: u
            for u in User.objects.filter(email__in=[city.email_for(k) for k in keys])
        }
        self.teams = {t.slug: t for t in Team.objects.filter(slug__in=[*LEADS])}
        self.specs = {k.title: k for o in OBJECTIVES for k in o.krs}
        self.series: dict[str, _Series | None] = {}
        self.missions: dict[str, Mission] = {}
        self.objectives: dict[tuple[int, str], Objective] = {}

    def run(self) -> None:
        first = self.quarters[0]
        self._missions(year_start(first.year) - timedelta(days=40))
        self._governance(year_start(first.year) - timedelta(days=20))
        for index, quarter in enumerate(self.quarters):
            if quarter.number == 1 or index == 0:
                self._objectives(quarter.year)
            closed = set(
                QuarterClose.objects.filter(year=quarter.year, quarter=quarter.number).values_list(
                    "team_id", flat=True
                )
            )
            existing = set(
                KeyResult.objects.filter(year=quarter.year, quarter=quarter.number).values_list(
                    "objective_id", "team_id", "title"
                )
            )
            for spec in OBJECTIVES:
                for kr_spec in spec.krs:
                    if kr_spec.when == "first" and index > 0:
                        continue
                    objective = self.objectives[(quarter.year, spec.title)]
                    team = self.teams[kr_spec.team]
                    if team.pk in closed or (objective.pk, team.pk, kr_spec.title) in existing:
                        continue  # seeded before, or carried over from the quarter before
                    self._key_result(objective, team, kr_spec, quarter)
            self._check_ins([kr for kr in self._krs(quarter) if kr.team_id not in closed])
            if quarter < self.current:
                if quarter == self.quarters[-2]:
                    self._mid_year_change(quarter)
                for slug in LEADS:
                    self._close(self.teams[slug], quarter)

    # missions and governance: their services take no `at`, so their history is backdated here

    def _missions(self, day: date) -> None:
        leader = self.people[MISSION_LEADER]
        at = _moment(day, 10)
        for spec in MISSIONS:
            mission = Mission.objects.filter(title=spec.title).first()
            if mission is None:
                mission = services.save_mission(
                    leader,
                    {
                        "title": spec.title,
                        "public_value": spec.public_value,
                        "description": spec.description,
                    },
                )
                Mission.objects.filter(pk=mission.pk).update(created_at=at)
                Change.objects.filter(mission=mission).update(at=at)
            self.missions[spec.key] = mission

    def _governance(self, day: date) -> None:
        team = self.teams[MEMBERS_GOVERN]
        if OkrPolicy.objects.filter(team=team).exists():
            return  # the team has decided already (in an earlier run, or by hand)
        services.save_policy(self.people[LEADS[MEMBERS_GOVERN]], team, "members", 7)
        Change.objects.filter(team=team, subject__startswith="OKR governance").update(
            at=_moment(day, 14)
        )

    # objectives

    def _objectives(self, year: int) -> None:
        at = _moment(year_start(year) - timedelta(days=10), 11)
        for spec in OBJECTIVES:
            titles = [spec.title, *([spec.change.title] if spec.change else [])]
            team = self.teams[spec.team]
            objective = Objective.objects.filter(team=team, year=year, title__in=titles).first()
            if objective is None:
                title, description = spec.title, spec.description
                changed = spec.change
                if (
                    changed
                    and Objective.objects.filter(
                        team=team, year=year - 1, title=changed.title
                    ).exists()
                ):
                    # changed last year: the team writes this year's in the new words
                    title, description = changed.title, changed.description
                objective = services.create_objective(
                    self.people[spec.owner],
                    team,
                    {
                        "title": title,
                        "description": description,
                        "mission": self.missions[spec.mission],
                        "year": year,
                        "owner": self.people[spec.owner],
                        "is_private": spec.private,
                        "partner_teams": [self.teams[slug] for slug in spec.partners],
                    },
                    at=at,
                )
            self.objectives[(year, spec.title)] = objective

    def _mid_year_change(self, quarter: Quarter) -> None:
        for spec in OBJECTIVES:
            change = spec.change
            objective = self.objectives.get((quarter.year, spec.title))
            if change is None or objective is None or objective.title == change.title:
                continue
            services.change_objective(
                self.people[change.by],
                objective,
                {
                    "title": change.title,
                    "description": change.description,
                    "mission": objective.mission,
                    "year": objective.year,
                    "owner": objective.owner,
                    "is_private": objective.is_private,
                    "partner_teams": list(objective.partner_teams.all()),
                },
                change.reason,
                at=_moment(quarter.start + timedelta(days=45), 10, 30),
            )

    # key results

    def _data(self, slug: str) -> _Series | None:
        if slug not in self.series:
            metric = Metric.objects.filter(slug=slug).first()
            self.series[slug] = _series(metric) if metric else None
        return self.series[slug]

    def _krs(self, quarter: Quarter) -> list[KeyResult]:
        return list(
            KeyResult.objects.filter(year=quarter.year, quarter=quarter.number)
            .select_related("team", "owner", "metric", "objective", "carried_from")
            .prefetch_related(
                Prefetch(
                    "checkins",
                    queryset=CheckIn.objects.order_by("-at", "-pk"),
                    to_attr="seeded_checkins",
                )
            )
            .order_by("pk")
        )

    def _key_result(
        self, objective: Objective, team: Team, kr_spec: KrSpec, quarter: Quarter
    ) -> None:
        data: dict[str, Any] = {
            "title": kr_spec.title,
            "quarter": quarter,
            "kind": kr_spec.kind,
            "owner": self.people[kr_spec.owner],
            "unit": kr_spec.unit,
            "decimals": kr_spec.decimals,
        }
        if kr_spec.metric:
            series = self._data(kr_spec.metric)
            values = _linked_values(kr_spec, series, quarter) if series else None
            if series is None or values is None:
                return
            data.update(metric=series.metric, start_value=values[0], target_value=values[1])
        elif kr_spec.kind == KeyResultKind.MEASURE:
            start = self._manual_start(kr_spec, quarter)
            target = start + kr_spec.step
            if kr_spec.cap is not None:
                target = min(target, kr_spec.cap)
            if target <= start:
                return
            data.update(start_value=start, target_value=target)
        services.create_key_result(
            self.people[kr_spec.owner],
            objective,
            team,
            data,
            at=_moment(quarter.start - timedelta(days=3), 10),
        )

    def _manual_start(self, spec: KrSpec, quarter: Quarter) -> float:
        """Where the last quarter's key result of the same title ended, or the spec's start."""
        before = (
            KeyResult.objects.filter(team__slug=spec.team, title=spec.title)
            .filter(year__lte=quarter.year)
            .exclude(year=quarter.year, quarter__gte=quarter.number)
            .order_by("-year", "-quarter")
            .first()
        )
        if before is None or before.current_value is None:
            return spec.start
        return before.current_value

    # check-ins

    def _check_ins(self, krs: Sequence[KeyResult]) -> None:
        """The owners' weekly check-ins since their last one, up to yesterday (or the quarter's
        end). The latest of each goes through the check-in service, which also saves the key
        result as it stands; the ones before it are written in bulk the way that service
        writes them (a check-in and its line in the history), or the demo would take seconds.
        The service checks the owner may check in; the transaction undoes the rest if not."""
        plans: list[tuple[KeyResult, User, list[_Planned]]] = []
        checkins: list[CheckIn] = []
        history: list[Change] = []
        for kr in krs:
            spec = self.specs.get(kr.title)
            owner = kr.owner
            if spec is None or owner is None:
                continue
            planned = self._plan(kr, spec, owner)
            if planned:
                plans.append((kr, owner, planned))
                self._history(kr, owner, planned[:-1], checkins, history)
        CheckIn.objects.bulk_create(checkins)
        Change.objects.bulk_create(history)
        for kr, owner, planned in plans:
            last = planned[-1]
            checkin = services.check_in(
                owner,
                kr,
                confidence=last.confidence,
                note=last.note,
                value=last.value,
                done=last.done,
                at=last.at,
            )
            if kr.metric_id is not None and checkin.value != last.value:
                # check_in takes the metric's value of today; keep the one of that day
                CheckIn.objects.filter(pk=checkin.pk).update(value=last.value)

    def _plan(self, kr: KeyResult, spec: KrSpec, owner: User) -> list[_Planned]:
        quarter = kr.period
        earlier: list[CheckIn] = getattr(kr, "seeded_checkins", [])
        last = earlier[0] if earlier else None
        first_day = timezone.localdate(kr.created_at) + timedelta(days=1)
        if last is not None:
            first_day = max(first_day, timezone.localdate(last.at) + timedelta(days=1))
        first_day = max(first_day, quarter.start + timedelta(days=1))
        until = min(quarter.end, self.as_of - timedelta(days=1))
        if spec.lapses and quarter == self.current:
            until = min(until, self.as_of - timedelta(days=16))  # fell behind: overdue now
        weekday = CHECKIN_DAY.get(kr.team.slug, 1)
        if weekday == self.as_of.weekday():
            weekday = (weekday + 1) % 5
        yesterday = self.as_of - timedelta(days=1)
        day = yesterday - timedelta(days=(yesterday.weekday() - weekday) % 7)
        while day > until:
            day -= timedelta(days=7)
        days = []
        while day >= first_day:
            days.append(day)
            day -= timedelta(days=7)
        depth = self._depth(kr)
        hour, minute = 8 + owner.pk % 9, (owner.pk * 13) % 60
        series = self._data(spec.metric) if kr.metric_id else None
        was_done = kr.done
        previous = kr.current_value
        weeks = len(earlier)
        planned: list[_Planned] = []
        for week, day in enumerate(reversed(days), start=weeks + 3 * depth):
            frac = (day - quarter.start).days / max(1, (quarter.end - quarter.start).days)
            at = _moment(day, hour, minute)
            if kr.is_milestone:
                done = spec.done_after == depth and frac >= 0.6
                confidence = self._milestone_confidence(spec, depth, frac, done)
                key = ("kept" if was_done else "done") if done else ""
                note = self._note(spec, key, confidence, week, {})
                planned.append(_Planned(at, None, done, confidence, note))
                was_done = done
            elif series is not None:
                latest = series.known_on(day)
                value = latest[-1] if latest else None
                typical = series.typical_on(day - timedelta(days=spec.settle_days))
                confidence = self._confidence(kr, typical, frac)
                key = self._anomaly(kr, value, typical)
                note = self._note(spec, key, confidence, week, self._words(kr, value, typical))
                planned.append(_Planned(at, value, None, confidence, note))
            else:
                rng = random.Random(f"{kr.title}|{quarter.code}|{day.isoformat()}")
                value = self._manual_value(kr, spec, frac, rng, previous)
                previous = value
                confidence = self._confidence(kr, value, frac)
                note = self._note(spec, "", confidence, week, self._words(kr, value, None))
                planned.append(_Planned(at, value, None, confidence, note))
        return planned

    def _history(
        self,
        kr: KeyResult,
        owner: User,
        planned: Sequence[_Planned],
        checkins: list[CheckIn],
        history: list[Change],
    ) -> None:
        """Check-ins and their history lines as check_in would write them, and the key result
        (in memory: the service's check-in that follows saves it) as they leave it."""
        if not planned:
            return
        earlier: list[CheckIn] = getattr(kr, "seeded_checkins", [])
        confidence = earlier[0].get_confidence_display() if earlier else "—"
        value, done = kr.current_value, kr.done
        linked = kr.metric_id is not None
        subject = f"Key result “{kr.title}” ({kr.period.label})"
        for item in planned:
            changes = []
            if kr.is_milestone:
                if done != item.done:
                    changes.append(
                        {"field": "done", "before": _yes(done), "after": _yes(item.done)}
                    )
                done = bool(item.done)
            elif not linked:
                if value != item.value:
                    changes.append(
                        {
                            "field": "value",
                            "before": services.fmt_value(kr, value),
                            "after": services.fmt_value(kr, item.value),
                        }
                    )
                value = item.value
            label = Confidence(item.confidence).label
            if label != confidence:
                changes.append({"field": "confidence", "before": confidence, "after": label})
            confidence = label
            checkins.append(
                CheckIn(
                    key_result=kr,
                    author=owner,
                    at=item.at,
                    value=item.value,
                    done=item.done if kr.is_milestone else None,
                    from_metric=linked,
                    confidence=item.confidence,
                    note=item.note,
                )
            )
            history.append(
                Change(
                    at=item.at,
                    who=owner,
                    action=ChangeAction.CHECKED_IN,
                    subject=subject[:300],
                    team_id=kr.team_id,
                    objective_id=kr.objective_id,
                    key_result=kr,
                    changes=changes,
                    reason=item.note,
                )
            )
        if not linked:
            kr.current_value = value
        kr.done = done

    def _depth(self, kr: KeyResult) -> int:
        depth, link = 0, kr.carried_from
        while link is not None:
            depth, link = depth + 1, link.carried_from
        return depth

    def _manual_value(
        self, kr: KeyResult, spec: KrSpec, frac: float, rng: random.Random, previous: float | None
    ) -> float:
        assert kr.start_value is not None and kr.target_value is not None
        fate = spec.fates[(kr.quarter - 1) % len(spec.fates)]
        progress = fate * frac**0.85 + rng.uniform(-0.06, 0.06)
        progress = min(max(progress, 0.0), fate + 0.02)
        value = kr.start_value + (kr.target_value - kr.start_value) * progress
        value = round(value, kr.decimals)
        if spec.monotone and previous is not None:
            value = max(value, previous)
        return value

    def _progress(self, kr: KeyResult, value: float | None) -> float:
        if value is None or kr.start_value is None or kr.target_value is None:
            return 0.0
        span = kr.target_value - kr.start_value
        return 0.0 if span == 0 else (value - kr.start_value) / span

    def _confidence(self, kr: KeyResult, value: float | None, frac: float) -> str:
        progress = self._progress(kr, value)
        if progress >= 1 or progress >= frac - 0.15:
            return Confidence.ON_TRACK
        if progress >= frac - 0.4:
            return Confidence.AT_RISK
        return Confidence.OFF_TRACK

    def _milestone_confidence(self, spec: KrSpec, depth: int, frac: float, done: bool) -> str:
        if done or spec.done_after == depth:
            return Confidence.ON_TRACK
        if frac < (0.3 if spec.drop else 0.4):
            return Confidence.ON_TRACK
        if frac < (0.6 if spec.drop else 0.75):
            return Confidence.AT_RISK
        return Confidence.OFF_TRACK

    def _anomaly(self, kr: KeyResult, value: float | None, typical: float | None) -> str:
        """Whether the latest period looks far "better" or "worse" than the typical level."""
        if value is None or not typical:
            return ""
        lower_better = kr.direction == "decrease"
        if value > typical * 1.4:
            return "worse" if lower_better else "better"
        if value < typical * 0.75:
            return "better" if lower_better else "worse"
        return ""

    def _words(self, kr: KeyResult, value: float | None, typical: float | None) -> dict[str, str]:
        return {
            "n": "—" if value is None else f"{value:,.{kr.decimals}f}",
            "value": services.fmt_value(kr, value),
            "typical": services.fmt_value(kr, typical),
            "target": services.fmt_value(kr, kr.target_value),
            "start": services.fmt_value(kr, kr.start_value),
        }

    def _note(
        self, spec: KrSpec, key: str, confidence: str, week: int, words: Mapping[str, str]
    ) -> str:
        """The owner's note: for `key` ("done", "kept", "better", "worse") if there is one, else
        for the confidence, from the key result's own notes and some anyone might write."""
        generic = GENERIC_NOTES if words else GENERIC_MILESTONE_NOTES
        pool = list(spec.notes.get(key, ()) or generic.get(key, ())) if key else []
        if not pool:
            pool = [*spec.notes.get(confidence, ()), *generic[confidence]]
        template = pool[week % len(pool)]
        return template.format(**words) if words else template

    # quarter close

    def _close(self, team: Team, quarter: Quarter) -> None:
        if services.is_quarter_closed(team, quarter) is not None:
            return
        krs = list(
            KeyResult.objects.filter(team=team, year=quarter.year, quarter=quarter.number)
            .select_related("carried_from")
            .order_by("pk")
        )
        if not krs:
            return
        decisions: dict[int, services.Decision] = {}
        counts = {Outcome.COMPLETED: 0, Outcome.CARRIED: 0, Outcome.DROPPED: 0}
        scores: list[tuple[int, str]] = []
        for kr in krs:
            decision = self._decision(kr, quarter)
            decisions[kr.pk] = decision
            counts[Outcome(decision.outcome)] += 1
            scores.append((int(decision.score), kr.title))
        best = max(scores)
        average = round(sum(s for s, _ in scores) / len(scores))
        reflection = (
            f"{REFLECTIONS[team.slug][quarter.number - 1]} {quarter.label}: "
            f"{counts[Outcome.COMPLETED]} completed, {counts[Outcome.CARRIED]} carried over, "
            f"{counts[Outcome.DROPPED]} dropped; average score {average}%. "
            f"Best: “{best[1]}” ({best[0]}%)."
        )
        # just after the quarter's end, and before as-of
        close_day = min(quarter.end + timedelta(days=3), self.as_of - timedelta(days=1))
        close_day = max(quarter.end, close_day)
        services.close_quarter(
            self.people[LEADS[team.slug]],
            team,
            quarter,
            reflection,
            decisions,
            today=close_day,
            at=_moment(close_day, 16),
        )

    def _decision(self, kr: KeyResult, quarter: Quarter) -> services.Decision:
        spec = self.specs.get(kr.title)
        depth = self._depth(kr)
        if kr.is_milestone:
            achieved = kr.done
            score = 100 if kr.done else 30
        else:
            progress = kr.progress()
            achieved = progress is not None and progress >= 1
            score = round(100 * (progress or 0.0))
        current = services.fmt_value(kr, kr.current_value)
        if spec is not None and spec.drop and depth == 0 and not achieved:
            return services.Decision(score, Outcome.DROPPED, spec.drop)
        if spec is not None and spec.carry and not achieved and quarter.number < 4:
            left = "not done yet" if kr.is_milestone else f"at {current}"
            note = f"Carried over {left}: the work continues in {quarter.next().label}."
            return services.Decision(score, Outcome.CARRIED, note)
        if achieved:
            note = "Done." if kr.is_milestone else f"Achieved: {current}."
        elif kr.is_milestone:
            note = "Not done this quarter."
        elif score >= 70:
            note = f"Nearly there at {current}; next quarter's key result starts from here."
        else:
            note = (
                f"Closed at {score}% ({current}): short of the target. What we learned shapes "
                "next quarter's key result."
            )
        return services.Decision(score, Outcome.COMPLETED, note)
