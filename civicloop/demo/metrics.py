"""The demo city's shared measures, defined the way a performance team would define them.

Each is a plain definition (what `civicloop metrics export` writes as YAML), saved through the
same service as a steward's edit in the browser. Weekly and monthly, most with a district
breakdown; counts, medians, percentiles, durations, ratios (with numerator and denominator
kept) and rates per resident. The benchmark refreshes all of them.
"""

from __future__ import annotations

from typing import Any

from civicloop.demo.citydata import REQUEST_TYPES

_CLEAN = {"team": "team-clean", "owner": "public-works", "steward": "grace.lin@alderport.example"}
_311 = {
    "team": "customer-services-team",
    "owner": "customer-services",
    "steward": "kwame.asante@alderport.example",
}
_SAFE = {"team": "team-safe", "owner": "police", "steward": "priya.nair@alderport.example"}
_HOUSED = {"team": "team-housed", "owner": "housing", "steward": "hannah.kim@alderport.example"}

# Which team answers for which request types; the rest belong to the 311 service team.
_TYPE_TEAM = {"Illegal dumping": _CLEAN, "Encampment": _CLEAN, "Graffiti": _CLEAN}


def _slug(text: str) -> str:
    return text.lower().replace(" ", "-")


def _requests(kind: str) -> dict[str, Any]:
    return {
        **_TYPE_TEAM.get(kind, _311),
        "id": f"{_slug(kind)}-requests-weekly",
        "name": f"{kind} requests per week",
        "question": f"How many {kind.lower()} reports do residents make to 311 each week?",
        "description": f"Service requests of type {kind}, counted in the week they were opened.",
        "caveats": "Counts reports, not sites: one site reported three times counts three times.",
        "dataset": "service_requests",
        "filter": f"request_type = '{kind}'",
        "measure": {"aggregate": "count"},
        "time": {"column": "opened_at", "grain": "week"},
        "breakdowns": ["district", "channel"],
        "unit": "requests",
        "direction": "lower_is_better" if kind in _TYPE_TEAM else "neutral",
    }


def _days_to_close(kind: str) -> dict[str, Any]:
    return {
        **_TYPE_TEAM.get(kind, _311),
        "id": f"{_slug(kind)}-days-to-close-monthly",
        "name": f"Median days to close {kind.lower()} requests",
        "question": f"How long does a typical {kind.lower()} request take to close?",
        "description": "Median time from opening to closing, for requests closed, by the month "
        "they were opened.",
        "caveats": "Requests still open are left out, so the latest month looks faster until "
        "its slow requests close.",
        "dataset": "service_requests",
        "filter": f"request_type = '{kind}' AND closed_at IS NOT NULL",
        "measure": {
            "aggregate": "median",
            "duration": {"start": "opened_at", "end": "closed_at", "unit": "days"},
        },
        "time": {"column": "opened_at", "grain": "month"},
        "breakdowns": ["district"],
        "unit": "days",
        "decimals": 1,
        "direction": "lower_is_better",
    }


def _share_of_records(numerator_filter: str) -> dict[str, Any]:
    """A percentage: the records matching the filter, of all the metric's records."""
    return {
        "ratio": {
            "numerator": {"aggregate": "count", "filter": numerator_filter},
            "denominator": {"aggregate": "count"},
            "multiplier": 100,
        }
    }


def _per_residents(measure: dict[str, Any], per: int) -> dict[str, Any]:
    """A rate per `per` residents of each district."""
    return {
        "rate": {
            "of": measure,
            "population": {
                "dataset": "district_population",
                "column": "population",
                "by": ["district"],
            },
            "per": per,
        }
    }


def demo_metric_definitions() -> list[dict[str, Any]]:
    """Every demo metric, as plain definitions (41 of them)."""
    out: list[dict[str, Any]] = []
    for kind in REQUEST_TYPES:
        out.append(_requests(kind))
        out.append(_days_to_close(kind))
    out += [
        {
            **_CLEAN,
            "id": "dumping-days-to-close-weekly",
            "name": "Median days to close illegal dumping requests (weekly)",
            "question": "Are dumping reports being cleared faster, week by week?",
            "description": "Median days from report to closure for illegal dumping requests "
            "closed, by the week they were opened. The District 3 pilot shows here.",
            "caveats": "Requests still open are left out, so the latest weeks look faster "
            "until their slow requests close.",
            "dataset": "service_requests",
            "filter": "request_type = 'Illegal dumping' AND closed_at IS NOT NULL",
            "measure": {
                "aggregate": "median",
                "duration": {"start": "opened_at", "end": "closed_at"},
            },
            "time": {"column": "opened_at", "grain": "week"},
            "breakdowns": ["district"],
            "unit": "days",
            "decimals": 1,
            "direction": "lower_is_better",
            "target": {"value": 5},
        },
        {
            **_CLEAN,
            "id": "dumping-p90-days-to-close-monthly",
            "name": "90th percentile days to close illegal dumping",
            "question": "How long do the slowest tenth of dumping reports wait?",
            "caveats": "Requests still open are left out, so the latest month looks faster "
            "until its slow requests close.",
            "dataset": "service_requests",
            "filter": "request_type = 'Illegal dumping' AND closed_at IS NOT NULL",
            "measure": {
                "aggregate": "percentile",
                "p": 90,
                "duration": {"start": "opened_at", "end": "closed_at"},
            },
            "time": {"column": "opened_at", "grain": "month"},
            "breakdowns": ["district"],
            "unit": "days",
            "decimals": 1,
            "direction": "lower_is_better",
        },
        {
            **_CLEAN,
            "id": "dumping-closed-within-5-days",
            "name": "Dumping reports closed within 5 days",
            "question": "What share of dumping reports are cleared within five days?",
            "dataset": "service_requests",
            "filter": "request_type = 'Illegal dumping'",
            "measure": _share_of_records("days_between(opened_at, closed_at) <= 5"),
            "time": {"column": "opened_at", "grain": "month"},
            "breakdowns": ["district"],
            "unit": "%",
            "decimals": 1,
            "direction": "higher_is_better",
            "target": {"value": 60},
            "chart": {"type": "p"},
        },
        {
            **_CLEAN,
            "id": "dumping-requests-per-10k-residents",
            "name": "Illegal dumping reports per 10,000 residents",
            "question": "Which districts report the most dumping for their size?",
            "dataset": "service_requests",
            "filter": "request_type = 'Illegal dumping'",
            "measure": _per_residents({"aggregate": "count"}, 10000),
            "time": {"column": "opened_at", "grain": "month"},
            "breakdowns": ["district"],
            "unit": "per 10,000 residents",
            "decimals": 1,
            "direction": "lower_is_better",
            "chart": {"type": "u"},
        },
        {
            **_CLEAN,
            "id": "missed-collections-weekly",
            "name": "Missed refuse collections per week",
            "question": "How many household carts did the hauler miss each week?",
            "dataset": "refuse_collection",
            "measure": {"aggregate": "sum", "column": "missed_collections"},
            "time": {"column": "week_start", "grain": "week"},
            "breakdowns": ["district"],
            "unit": "carts",
            "direction": "lower_is_better",
        },
        {
            **_CLEAN,
            "id": "missed-collections-per-10k-carts",
            "name": "Missed collections per 10,000 carts",
            "question": "Of the carts due each week, how many were missed?",
            "dataset": "refuse_collection",
            "measure": {
                "ratio": {
                    "numerator": {"aggregate": "sum", "column": "missed_collections"},
                    "denominator": {"aggregate": "sum", "column": "scheduled_collections"},
                    "multiplier": 10000,
                }
            },
            "time": {"column": "week_start", "grain": "week"},
            "breakdowns": ["district"],
            "unit": "per 10,000 carts",
            "decimals": 1,
            "direction": "lower_is_better",
            "target": {"value": 15},
            "chart": {"type": "p"},
        },
        {
            **_CLEAN,
            "id": "missed-collections-fixed-within-2-days",
            "name": "Missed collections fixed within 2 days",
            "question": "When a resident reports a missed collection, is it picked up within "
            "two days?",
            "dataset": "service_requests",
            "filter": "request_type = 'Missed collection'",
            "measure": _share_of_records("days_between(opened_at, closed_at) <= 2"),
            "time": {"column": "opened_at", "grain": "month"},
            "breakdowns": ["district"],
            "unit": "%",
            "decimals": 1,
            "direction": "higher_is_better",
            "target": {"value": 80},
            "chart": {"type": "p"},
        },
        {
            **_311,
            "id": "requests-weekly",
            "name": "311 requests per week",
            "question": "How many requests do residents make to 311 each week?",
            "dataset": "service_requests",
            "measure": {"aggregate": "count"},
            "time": {"column": "opened_at", "grain": "week"},
            "breakdowns": ["district", "channel", "request_type"],
            "unit": "requests",
        },
        {
            **_311,
            "id": "requests-per-fiscal-quarter",
            "name": "311 requests per fiscal quarter",
            "question": "How many requests does 311 handle each quarter of the city's fiscal "
            "year (July to June)?",
            "dataset": "service_requests",
            "measure": {"aggregate": "count"},
            "time": {"column": "opened_at", "grain": "quarter", "fiscal_year_start": 7},
            "breakdowns": ["district"],
            "unit": "requests",
        },
        {
            **_311,
            "id": "app-share-monthly",
            "name": "Requests made in the mobile app",
            "question": "What share of residents' requests come through the app?",
            "dataset": "service_requests",
            "measure": _share_of_records("channel = 'Mobile app'"),
            "time": {"column": "opened_at", "grain": "month"},
            "breakdowns": ["district"],
            "unit": "%",
            "decimals": 1,
            "direction": "higher_is_better",
            "chart": {"type": "p"},
        },
        {
            **_311,
            "id": "requests-per-1000-residents-weekly",
            "name": "311 requests per 1,000 residents",
            "question": "How many requests do residents make for the size of their district?",
            "dataset": "service_requests",
            "measure": _per_residents({"aggregate": "count"}, 1000),
            "time": {"column": "opened_at", "grain": "week"},
            "breakdowns": ["district"],
            "unit": "per 1,000 residents",
            "decimals": 2,
            "chart": {"type": "u"},
        },
        {
            **_311,
            "id": "duplicates-closed-within-an-hour",
            "name": "Requests closed within the hour",
            "question": "What share of requests are closed within an hour, usually as duplicates?",
            "dataset": "service_requests",
            "measure": _share_of_records("days_between(opened_at, closed_at) < 0.0417"),
            "time": {"column": "opened_at", "grain": "month"},
            "breakdowns": ["channel"],
            "unit": "%",
            "decimals": 1,
            "direction": "lower_is_better",
        },
        {
            **_311,
            "id": "customer-satisfaction-monthly",
            "name": "Customer satisfaction",
            "question": "What share of residents are satisfied with how their request was handled?",
            "description": "Survey responses scoring 4 or 5 out of 5, as a share of all "
            "responses in the month.",
            "caveats": "Residents choose whether to answer; app users answer most often.",
            "dataset": "satisfaction_survey",
            "measure": _share_of_records("satisfied"),
            "time": {"column": "responded_on", "grain": "month"},
            "breakdowns": ["district", "channel"],
            "unit": "%",
            "decimals": 1,
            "direction": "higher_is_better",
            "target": {"value": 60},
            "chart": {"type": "p"},
        },
        {
            **_311,
            "id": "mean-satisfaction-score-weekly",
            "name": "Mean satisfaction score",
            "question": "On a scale of 1 to 5, how do residents rate the service?",
            "dataset": "satisfaction_survey",
            "measure": {"aggregate": "mean", "column": "score"},
            "time": {"column": "responded_on", "grain": "week"},
            "breakdowns": ["district"],
            "unit": "out of 5",
            "decimals": 2,
            "direction": "higher_is_better",
        },
        {
            **_CLEAN,
            "id": "dumping-satisfaction-monthly",
            "name": "Satisfaction with dumping clean-ups",
            "question": "Are residents who report dumping happy with the clean-up?",
            "dataset": "satisfaction_survey",
            "filter": "request_type = 'Illegal dumping'",
            "measure": _share_of_records("satisfied"),
            "time": {"column": "responded_on", "grain": "month"},
            "breakdowns": ["district"],
            "unit": "%",
            "decimals": 1,
            "direction": "higher_is_better",
            "chart": {"type": "p"},
        },
        {
            **_SAFE,
            "id": "shootings-weekly",
            "name": "Shootings per week",
            "question": "How many shooting incidents happen in the city each week?",
            "dataset": "shootings",
            "measure": {"aggregate": "sum", "column": "shootings"},
            "time": {"column": "week_start", "grain": "week"},
            "breakdowns": ["district"],
            "unit": "shootings",
            "direction": "lower_is_better",
            "public": True,
            "suppress_below": 5,
        },
        {
            **_SAFE,
            "id": "homicides-monthly",
            "name": "Homicides per month",
            "question": "How many people are killed by violence in the city each month?",
            "dataset": "shootings",
            "measure": {"aggregate": "sum", "column": "homicides"},
            "time": {"column": "week_start", "grain": "month"},
            "unit": "homicides",
            "direction": "lower_is_better",
            "caveats": "Weekly counts are assigned to the month their week starts in.",
            "public": True,
            "suppress_below": 5,
        },
        {
            **_SAFE,
            "id": "shootings-per-100k-quarterly",
            "name": "Shootings per 100,000 residents per quarter",
            "question": "Where is gun violence highest for the size of the district?",
            "dataset": "shootings",
            "measure": _per_residents({"aggregate": "sum", "column": "shootings"}, 100000),
            "time": {"column": "week_start", "grain": "quarter"},
            "breakdowns": ["district"],
            "unit": "per 100,000 residents",
            "decimals": 1,
            "direction": "lower_is_better",
            "chart": {"type": "u"},
        },
        {
            **_HOUSED,
            "id": "people-housed-monthly",
            "name": "People housed per month",
            "question": "How many people move into rapid rehousing or supportive housing each "
            "month?",
            "dataset": "housing",
            "filter": "program IN ('Rapid rehousing', 'Permanent supportive housing')",
            "measure": {"aggregate": "sum", "column": "placements"},
            "time": {"column": "month", "grain": "month"},
            "breakdowns": ["program"],
            "unit": "people",
            "direction": "higher_is_better",
            "target": {"value": 70},
        },
        {
            **_HOUSED,
            "id": "shelter-entries-monthly",
            "name": "New emergency shelter entries per month",
            "question": "How many people enter emergency shelter each month?",
            "dataset": "housing",
            "filter": "program = 'Emergency shelter'",
            "measure": {"aggregate": "sum", "column": "placements"},
            "time": {"column": "month", "grain": "month"},
            "unit": "people",
            "direction": "lower_is_better",
        },
        {
            **_HOUSED,
            "id": "people-sheltered-month-end",
            "name": "People in emergency shelter at month end",
            "question": "How many people are in emergency shelter at the end of each month?",
            "dataset": "housing",
            "filter": "program = 'Emergency shelter'",
            "measure": {"aggregate": "sum", "column": "people_sheltered"},
            "time": {"column": "month", "grain": "month"},
            "unit": "people",
            "direction": "neutral",
        },
    ]
    return out
