"""The demo city's improvement work: Team Clean's A3 on illegal dumping in District 3.

Its two PDSA cycles are judged on the real demo data: cycle 1 (weekend sweeps by the existing
crews, months before the pilot) changed nothing the chart can see, so the team adapted; cycle 2
(a dedicated crew that texts the resident a photo, the pilot the data holds from
`Timeline.pilot_start`) shifted District 3 and not the rest, so the team adopted it and the
metric is rebased at the change date. Every step goes through the services, dated as it
happened, so the A3's history reads like the team's.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from civicloop.accounts.models import User
from civicloop.demo import city
from civicloop.demo.citydata import timeline_for
from civicloop.improvement import services
from civicloop.improvement.models import A3, State
from civicloop.metrics.models import Metric
from civicloop.organizations.models import Team

TITLE = "Illegal dumping waits nine days in District 3"
METRIC = "dumping-days-to-close-weekly"
PILOT = "District 3"


def _person(key: str) -> User:
    return User.objects.get(email=city.email_for(key))


def _at(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def define_demo_a3s(as_of: date) -> int:
    """Seed (once) the demo's A3s; returns how many exist."""
    if not A3.objects.filter(title=TITLE).exists():
        with transaction.atomic():
            _dumping_a3(as_of)
    return A3.objects.count()


def _dumping_a3(as_of: date) -> None:
    timeline = timeline_for(as_of)
    pilot = timeline.pilot_start
    team = Team.objects.get(slug="team-clean")
    grace, marcus, amara = _person("grace.lin"), _person("marcus.bell"), _person("amara.okafor")
    metric = Metric.objects.get(slug=METRIC)
    requests = Metric.objects.filter(slug="illegal-dumping-requests-weekly").first()
    satisfaction = Metric.objects.filter(slug="customer-satisfaction-monthly").first()
    began = pilot - timedelta(weeks=22)
    template = services.save_template(
        grace,
        team,
        {
            "name": "Street services A3",
            "is_shared": True,
            "question_background": "Which residents and streets does this affect, and why "
            "does it matter to them now?",
            "question_current_condition": "What do the service requests and the residents "
            "tell us today? Show the chart.",
            "fishbone_categories": "Crews\nPolicies\nProcedures\nPlace\nMeasurement",
        },
    )
    a3 = services.create_a3(
        marcus,
        team,
        {
            "title": TITLE,
            "problem": "Dumping reports in District 3 wait about nine days to be cleared",
            "owner": marcus,
            "sponsor": grace,
            "mentor": amara,
            "started_on": began,
            "template": template,
        },
        at=_at(began),
    )
    services.update_a3(
        marcus,
        a3,
        {
            "is_open": True,  # the demo's worked example: everyone signed in may read it
            "review_on": as_of + timedelta(days=(3 - as_of.weekday()) % 7 or 7),
            "background": (
                "Illegal dumping is the **most reported street problem** in District 3, where "
                "vacant lots and narrow back streets make it easy. Every day a pile stays, more "
                "is added to it, and residents tell us it makes the street feel abandoned.\n\n"
                "The Clean Streets objective commits us to clearing reports in under five days "
                "citywide; District 3 is the furthest from it."
            ),
            "current_condition": (
                "The weekly median time to close a dumping report in District 3 is about "
                "**nine days**, with common cause variation between roughly 7 and 12: the "
                "process is stable, and stably slow. Requests arrive at the same rate all year "
                "apart from a summer peak."
            ),
            "current_as_of": began,
            "goal": (
                "By the end of the year, dumping reports in District 3 are cleared in a median "
                "of **five days or less**, week in, week out, and residents see it done."
            ),
            "goal_metric": metric,
            "goal_breakdown": "district",
            "goal_value": PILOT,
            "goal_target": 5.0,
            "goal_by": date(pilot.year, 12, 31),
        },
        at=_at(began + timedelta(days=2)),
    )
    linked = _at(began + timedelta(days=2), 11)
    services.link_metric(marcus, a3, metric, "district", PILOT, at=linked)
    if requests is not None:
        services.link_metric(marcus, a3, requests, "district", PILOT, at=linked)
    services.add_voice(
        marcus,
        a3,
        {
            "section": "current_condition",
            "kind": "quote",
            "text": "I reported the mattress on Harbour Lane twice. Two weeks later there were "
            "three mattresses.",
            "source": "Resident, Harbour Lane (311 call)",
            "on": began - timedelta(days=20),
        },
        at=_at(began + timedelta(days=3)),
    )
    services.add_voice(
        marcus,
        a3,
        {
            "section": "current_condition",
            "kind": "complaint",
            "text": "Council members' offices logged 41 complaints about dumping in District 3 "
            "in the spring, more than any other district.",
            "source": "Council casework system",
            "on": began - timedelta(days=10),
        },
        at=_at(began + timedelta(days=3)),
    )
    services.set_root_causes(
        marcus,
        a3,
        whys=[
            "Why do reports wait nine days? Crews reach them only after other request types.",
            "Why after other types? Dumping shares a queue with potholes and signs, ordered by "
            "age, and a pile needs a truck with a lift.",
            "Why does that matter? District 3 has one lift truck two days a week.",
            "Why only two days? Crews are scheduled by district size, not by dumping volume.",
            "Why by size? Nobody owns dumping in District 3: no crew is accountable for it.",
        ],
        causes=[
            ("Crews", "No crew owns dumping in District 3"),
            ("Crews", "Crews shared with four other request types"),
            ("Policies", "Schedules set by district size, not demand"),
            ("Procedures", "Dumping queued behind potholes and signs"),
            ("Procedures", "Bulky items need a second visit"),
            ("Place", "Vacant lots and back streets hide dumping"),
            ("Measurement", "Closed when scheduled, not when cleared"),
        ],
        at=_at(began + timedelta(days=9)),
    )
    sweeps = services.save_countermeasure(
        marcus,
        a3,
        {
            "title": "Weekend sweeps by the existing crews",
            "cause": "Dumping queued behind potholes and signs",
            "description": "The existing crews clear every open dumping report in District 3 "
            "on Saturdays, as overtime.",
        },
        at=_at(began + timedelta(days=10)),
    )
    crew = services.save_countermeasure(
        marcus,
        a3,
        {
            "title": "A dedicated dumping crew for District 3",
            "cause": "No crew owns dumping in District 3",
            "description": "One crew with a lift truck every weekday, on dumping only. On "
            "closing a report, the crew texts the resident a photo of the cleared site.",
        },
        at=_at(began + timedelta(days=10)),
    )
    for what, who, due, done in (
        ("Agree Saturday overtime with the crews' union", grace, began + timedelta(weeks=2), 12),
        ("Brief the District 3 crews on the sweeps", marcus, began + timedelta(weeks=3), 20),
        ("Move a lift truck to District 3 full time", grace, pilot - timedelta(days=7), None),
        ("Set up the photo text on closing a report", _person("olivia.grant"), pilot, None),
        ("Report the pilot at the Team Clean meeting", marcus, pilot + timedelta(weeks=18), None),
    ):
        action = services.save_action(
            marcus,
            a3,
            {"what": what, "owner": who, "due_on": due, "countermeasure": None},
            at=_at(began + timedelta(days=11)),
        )
        finished = (began + timedelta(days=done)) if done else (due if due < as_of else None)
        if finished:
            action.done_on = finished
            action.save(update_fields=["done_on"])
    services.move(marcus, a3, State.IN_PROGRESS, at=_at(began + timedelta(days=12)))

    # Cycle 1: weekend sweeps, months before the pilot. The data shows no change.
    first_start = began + timedelta(weeks=3)
    first_start -= timedelta(days=first_start.weekday())
    one = services.add_cycle(
        marcus,
        sweeps,
        {
            "change": "Existing crews clear every open dumping report in District 3 on Saturdays.",
            "question": "Does clearing the backlog once a week shorten the wait?",
            "who": "District 3 crews (overtime)",
            "where": "District 3",
            "metric": metric,
            "breakdown": "district",
            "value": PILOT,
            "prediction": "The median wait falls from about nine days to six within a month, "
            "because nothing waits more than a week.",
            "predicted_direction": "decrease",
            "predicted_value": 6.0,
            "data_to_collect": "Weekly median days to close in District 3; overtime hours.",
            "planned_start": first_start,
        },
        at=_at(began + timedelta(days=13)),
    )
    services.start_cycle(marcus, one, first_start, at=_at(first_start, 8))
    first_end = first_start + timedelta(weeks=12)
    services.record_do(
        marcus,
        one,
        first_end,
        "Ran for twelve Saturdays. Crews cleared the backlog, but new reports opened on Monday "
        "waited until the next Saturday, and bulky items still needed a lift truck.",
        at=_at(first_end, 16),
    )
    services.study_cycle(
        marcus,
        one,
        "No change the chart can see: the sweeps moved when piles were cleared, not how fast. "
        "The prediction (six days) was wrong because the wait is set by the weekday queue.",
        as_of=first_end + timedelta(weeks=1),
        at=_at(first_end + timedelta(weeks=1)),
    )
    services.act(
        grace,
        one,
        "adapt",
        "Stop the overtime; test a crew that owns dumping every weekday instead.",
        at=_at(first_end + timedelta(weeks=1), 14),
    )

    # Cycle 2: the dedicated crew, live at the pilot's start. The data shows the shift.
    two = services.add_cycle(
        marcus,
        crew,
        {
            "change": "A dedicated crew with a lift truck on dumping only, every weekday, "
            "texting the resident a photo when a site is cleared.",
            "question": "Does a crew that owns dumping clear reports within five days?",
            "who": "New District 3 dumping crew",
            "where": "District 3",
            "metric": metric,
            "breakdown": "district",
            "value": PILOT,
            "prediction": "The median wait falls below five days within six weeks and stays "
            "there; the other districts do not change.",
            "predicted_direction": "decrease",
            "predicted_value": 5.0,
            "data_to_collect": "Weekly median days to close by district; photo texts sent; "
            "satisfaction survey replies from District 3.",
            "planned_start": pilot,
        },
        previous=one,
        at=_at(first_end + timedelta(weeks=1, days=2)),
    )
    services.start_cycle(marcus, two, pilot, at=_at(pilot, 7))
    services.move(marcus, a3, State.CONFIRMING, at=_at(pilot + timedelta(days=1)))
    second_end = pilot + timedelta(weeks=16)
    services.record_do(
        marcus,
        two,
        second_end,
        "Ran as planned for sixteen weeks. The crew cleared most sites within two days; photo "
        "texts went to 9 in 10 residents who reported. Two weeks lost to a truck repair.",
        at=_at(second_end, 16),
    )
    studied = second_end + timedelta(weeks=2)
    services.study_cycle(
        marcus,
        two,
        "The shift is unmistakable and only in District 3: every week since the change is "
        "below the old lower limit. Better than predicted.",
        as_of=studied,
        at=_at(studied),
    )
    services.act(
        grace,
        two,
        "adopt",
        "The dedicated crew becomes how District 3 works. Propose crews for Districts 5 "
        "and 6 in next year's budget.",
        at=_at(studied, 15),
    )
    if satisfaction is not None:
        services.add_voice(
            marcus,
            a3,
            {
                "section": "follow_up",
                "kind": "survey",
                "text": "Satisfaction with clean-ups in District 3 rose from about 55% to about "
                "80% of replies after the pilot started.",
                "source": "Monthly resident survey, District 3",
                "on": studied,
            },
            at=_at(studied + timedelta(days=1)),
        )
    services.add_voice(
        marcus,
        a3,
        {
            "section": "follow_up",
            "kind": "quote",
            "text": "They sent me a photo of the cleared corner the same afternoon. First time "
            "I felt someone read my report.",
            "source": "Resident, Quarry Street (reply to the photo text)",
            "on": studied - timedelta(days=5),
        },
        at=_at(studied + timedelta(days=1)),
    )
    follow_up = (
        "PDSA 2 shifted District 3's weekly median from about nine days to about three, from "
        "the week the crew started; the other districts did not move. The chart of the metric "
        "is rebased at the change, so the new process has its own limits.\n\n"
        "- Keep the crew; its cost is one crew and one truck.\n"
        "- Roll out to Districts 5 and 6 (next year's budget).\n"
        "- Watch the rebased chart for the first sign of drift."
    )
    if as_of >= studied + timedelta(weeks=4):
        services.update_a3(
            grace, a3, {"follow_up": follow_up}, at=_at(studied + timedelta(weeks=3))
        )
        services.move(
            grace,
            a3,
            State.CLOSED,
            outcome="adopted",
            reason="The dedicated crew is adopted; the effect is confirmed on the chart.",
            at=_at(studied + timedelta(weeks=4)),
        )
