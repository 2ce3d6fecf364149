"""Three years of operational data for a fictional mid-size US city.

The demo city ("about 430,000 people, seven council districts") needs data that a performance
practitioner recognises: a 311 backlog that never quite empties, summer dumping, holiday missed
collections, a storm week, a pilot that worked. This module generates it, deterministically from
a seed, as pyarrow Tables ready to load into the warehouse.

It is deliberately pure (numpy + pyarrow + stdlib, no Django) so the SPC engine's tests, the
benchmarks and the demo loader can all share it. Every planted pattern is listed in ``STORIES``
so features and tests can find it without re-deriving dates.

Scale multiplies the event tables (service requests, survey responses) for load testing. The
weekly and monthly tables describe the same city at every scale, so their rows do not change.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "CHANNELS",
    "DISTRICTS",
    "PROGRAMS",
    "REQUEST_TYPES",
    "STORIES",
    "Story",
    "Timeline",
    "generate_city_data",
    "timeline_for",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DISTRICTS: tuple[str, ...] = tuple(f"District {i}" for i in range(1, 8))
CHANNELS: tuple[str, ...] = ("Phone", "Mobile app", "Web", "Email", "Walk-in")
PROGRAMS: tuple[str, ...] = (
    "Rapid rehousing",
    "Permanent supportive housing",
    "Emergency shelter",
)

DAY_S = 86_400
_PILOT_DISTRICT = "District 3"
_PILOT_TYPE = "Illegal dumping"

# Residents per district (sums to 430k). Uneven on purpose: district breakdowns in real cities
# never have equal denominators, and the dashboards must cope.
_POPULATION = np.array([52_000, 58_000, 71_000, 49_000, 68_000, 80_000, 52_000], dtype=float)
_POP_SHARE = _POPULATION / _POPULATION.sum()


@dataclass(frozen=True)
class _RequestType:
    """How one 311 request type behaves: volume, season, district lean and time to close."""

    name: str
    share: float  # share of all requests
    season_amp: float  # +/- fraction around the yearly mean
    season_peak: int  # day of year at the peak
    median_days: float  # typical days to close
    sigma: float  # lognormal spread of days to close
    never_closed: float  # share lost in the backlog for good
    lean: tuple[float, ...] = (1.0,) * 7  # multiplier on population share per district
    crew: bool = True  # closed by a day crew (working hours, not weekends)


_PROFILES: tuple[_RequestType, ...] = (
    # Flatland districts 3, 5 and 6 carry most dumping and encampments, as in most US cities.
    _RequestType(
        "Illegal dumping", 0.27, 0.30, 196, 9.0, 0.85, 0.004, (0.7, 0.8, 1.3, 0.8, 1.2, 1.3, 0.9)
    ),
    _RequestType(
        "Encampment", 0.09, 0.25, 200, 21.0, 1.0, 0.02, (0.4, 0.6, 1.9, 0.6, 1.1, 1.4, 0.7)
    ),
    _RequestType("Graffiti", 0.11, 0.10, 180, 6.0, 0.9, 0.004, (0.7, 0.9, 1.6, 0.9, 1.0, 1.1, 0.8)),
    _RequestType("Pothole", 0.10, 0.30, 60, 6.0, 0.8, 0.004, (1.3, 1.2, 0.9, 1.2, 0.9, 0.8, 1.1)),
    _RequestType("Streetlight out", 0.08, 0.15, 355, 10.0, 0.9, 0.005),
    _RequestType(
        "Abandoned vehicle", 0.12, 0.05, 200, 7.0, 0.7, 0.015, (0.8, 0.9, 1.0, 1.0, 1.2, 1.2, 0.9)
    ),
    _RequestType("Missed collection", 0.06, 0.0, 1, 1.5, 0.6, 0.002),
    _RequestType("Noise complaint", 0.07, 0.35, 190, 0.15, 1.0, 0.003, crew=False),
    _RequestType("Blocked sidewalk", 0.05, 0.10, 20, 3.0, 0.9, 0.004),
    _RequestType(
        "Tree maintenance", 0.05, 0.30, 15, 25.0, 1.1, 0.006, (1.6, 1.5, 0.7, 1.3, 0.8, 0.7, 1.2)
    ),
)
REQUEST_TYPES: tuple[str, ...] = tuple(p.name for p in _PROFILES)
_TYPE = {name: i for i, name in enumerate(REQUEST_TYPES)}

_REQUESTS_PER_DAY = 300_000 / (3 * 365.25)  # about 300k requests in three years at scale 1
_SURVEYS_PER_SCALE = 15_000 / (3 * 365.25)  # about 15k survey responses in three years
_POTHOLE_WORSENING = 0.75  # pothole days-to-close grow by 75% from start to end
_PILOT_MEDIAN_DAYS = 3.0
_STORM_PROFILE = np.array([1.0, 9.0, 8.0, 6.0, 4.0, 2.5, 1.5])  # storm lands on the Tuesday
_STORM_TYPES = {"Tree maintenance": 1.0, "Blocked sidewalk": 1.0, "Streetlight out": 0.25}

# Missed collections in holiday weeks, as a multiple of an ordinary week; 311 calls follow.
_REFUSE_HOLIDAYS = {"thanksgiving": 2.5, "christmas": 3.5, "new_year": 3.0, "july4": 2.0}

# Share of requests by channel at the start and at the end; the app grows, phone shrinks.
_CHANNELS_START = np.array([0.48, 0.22, 0.20, 0.06, 0.04])
_CHANNELS_END = np.array([0.32, 0.42, 0.17, 0.06, 0.03])


# --- timeline -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    """The dates every table and story hang from, all derived from ``as_of``."""

    start: date  # first day of the month 36 months before as_of's month
    end: date  # == as_of, inclusive: the extract was taken at the end of this day
    pilot_start: date  # Monday the District 3 dumping pilot went live
    spike_week: date  # Monday of the storm week
    first_week: date  # first Monday on or after start; weekly tables begin here

    @property
    def as_of(self) -> date:
        return self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(d.day, calendar.monthrange(year, month + 1)[1]))


def _monday_on_or_after(d: date) -> date:
    return d + timedelta(days=(7 - d.weekday()) % 7)


def _monday_of(d: date) -> date:
    return d - timedelta(days=d.weekday())


def timeline_for(as_of: date) -> Timeline:
    """Place the three years, the pilot and the storm relative to ``as_of``."""
    start = _add_months(as_of.replace(day=1), -36)
    # The pilot goes live 22 months in: long enough baseline for an XmR chart before it, and
    # over a year after it for the shift to be unmistakable.
    pilot_start = _monday_on_or_after(_add_months(start, 22))
    # A winter storm in the first January at least a year in, away from holiday weeks.
    storm_year = start.year + 1 if start.month == 1 else start.year + 2
    spike_week = _monday_of(date(storm_year, 1, 15))
    return Timeline(start, as_of, pilot_start, spike_week, _monday_on_or_after(start))


# --- stories --------------------------------------------------------------------------------

Kind = Literal["shift", "seasonal", "trend", "spike", "partial"]


@dataclass(frozen=True)
class Story:
    """A pattern planted in the data, and where a chart or a test should find it.

    ``anchor`` names the Timeline attribute the story starts at (None for seasonal patterns);
    ``filters`` maps a column to the values to keep; ``direction`` is which way the measure
    moves at the anchor (or in the peak season).
    """

    key: str
    title: str
    kind: Kind
    table: str
    measure: str
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    anchor: str | None = None
    direction: Literal["up", "down"] = "up"
    description: str = ""

    def anchor_date(self, timeline: Timeline) -> date | None:
        """The concrete date of this story for one timeline."""
        return None if self.anchor is None else getattr(timeline, self.anchor)


_PILOT_FILTER = {"request_type": (_PILOT_TYPE,), "district": (_PILOT_DISTRICT,)}

STORIES: dict[str, Story] = {
    s.key: s
    for s in (
        Story(
            key="dumping_pilot",
            title="Illegal dumping pilot in District 3 cuts time to close",
            kind="shift",
            table="service_requests",
            measure="weekly median days from opened_at to closed_at",
            filters=_PILOT_FILTER,
            anchor="pilot_start",
            direction="down",
            description="Median about 9 days before the pilot, about 3 after; other districts "
            "unchanged. An XmR chart of the weekly median shows a sustained shift below the mean.",
        ),
        Story(
            key="dumping_pilot_satisfaction",
            title="Residents in District 3 notice the dumping pilot",
            kind="shift",
            table="satisfaction_survey",
            measure="share of responses with satisfied = true",
            filters=_PILOT_FILTER,
            anchor="pilot_start",
            direction="up",
            description="Faster closure, and a photo of the cleared site, lift satisfaction "
            "from about 55% to about 80%.",
        ),
        Story(
            key="summer_requests",
            title="Dumping and encampment requests peak every summer",
            kind="seasonal",
            table="service_requests",
            measure="weekly count of requests",
            filters={"request_type": ("Illegal dumping", "Encampment")},
            description="A clear annual cycle: July and August run well above January and "
            "February.",
        ),
        Story(
            key="summer_shootings",
            title="Shootings peak every summer",
            kind="seasonal",
            table="shootings",
            measure="weekly sum of shootings",
            description="Citywide shootings follow the summer cycle, with bumps around July 4 "
            "and New Year.",
        ),
        Story(
            key="pothole_trend",
            title="Potholes take slowly longer to fix",
            kind="trend",
            table="service_requests",
            measure="monthly median days from opened_at to closed_at",
            filters={"request_type": ("Pothole",)},
            anchor="start",
            description="A gradual worsening of about 75% over the three years, not a step.",
        ),
        Story(
            key="storm_week",
            title="A winter storm floods 311 with downed trees and blocked sidewalks",
            kind="spike",
            table="service_requests",
            measure="weekly count of requests",
            filters={"request_type": ("Tree maintenance", "Blocked sidewalk")},
            anchor="spike_week",
            description="One week at four to six times the usual volume, citywide; then back "
            "to normal.",
        ),
        Story(
            key="holiday_missed_collections",
            title="Missed collections jump in holiday weeks",
            kind="spike",
            table="refuse_collection",
            measure="missed_collections / scheduled_collections per week",
            description="Thanksgiving, Christmas, New Year and July 4 weeks miss two to four "
            "times as many collections as ordinary weeks.",
        ),
        Story(
            key="winter_shelter",
            title="Winter shelter beds open from December to March",
            kind="seasonal",
            table="housing",
            measure="people_sheltered per month",
            filters={"program": ("Emergency shelter",)},
            description="About 150 extra winter beds raise the point-in-time shelter count.",
        ),
        Story(
            key="partial_month",
            title="The current month is not over",
            kind="partial",
            table="service_requests",
            measure="monthly count of requests",
            anchor="end",
            direction="down",
            description="Data stops at as_of: the last month has fewer rows, and requests "
            "opened in the last few days are mostly still open. Every table ends the same way.",
        ),
    )
}


# --- shared calendar helpers ----------------------------------------------------------------


def _observed(d: date) -> date:
    """US federal holiday observance: Saturday moves to Friday, Sunday to Monday."""
    return d - timedelta(days=1) if d.weekday() == 5 else d + timedelta(days=int(d.weekday() == 6))


def _holiday_mondays(tl: Timeline) -> dict[str, list[date]]:
    """Monday of each holiday week (by name) that falls inside the timeline."""
    weeks: dict[str, list[date]] = {
        "thanksgiving": [],
        "christmas": [],
        "new_year": [],
        "july4": [],
    }
    for year in range(tl.start.year, tl.end.year + 2):
        november = date(year, 11, 1)
        thanksgiving = november + timedelta(days=(3 - november.weekday()) % 7 + 21)
        days = {
            "thanksgiving": thanksgiving,
            "christmas": _observed(date(year, 12, 25)),
            "new_year": _observed(date(year, 1, 1)),
            "july4": _observed(date(year, 7, 4)),
        }
        for name, day in days.items():
            monday = _monday_of(day)
            if tl.first_week <= monday <= tl.end:
                weeks[name].append(monday)
    return weeks


def _holiday_factor(
    weeks: npt.NDArray[np.datetime64], tl: Timeline, factors: Mapping[str, float]
) -> FloatArray:
    """Multiplier per week: ``factors[name]`` in that holiday's week, 1 elsewhere."""
    out = np.ones(len(weeks))
    for name, mondays in _holiday_mondays(tl).items():
        hit = np.isin(weeks, np.array(mondays, dtype="datetime64[D]"))
        out[hit] *= factors.get(name, 1.0)
    return out


def _seasonal(doy: FloatArray, amp: float | FloatArray, peak: float | FloatArray) -> FloatArray:
    return 1.0 + amp * np.cos(2 * np.pi * (doy - peak) / 365.25)


def _day_of_year(days: npt.NDArray[np.datetime64]) -> FloatArray:
    years = days.astype("datetime64[Y]")
    return (days - years.astype("datetime64[D]")).astype(np.int64).astype(float) + 1.0


def _weekday(epoch_days: IntArray) -> IntArray:
    """Monday = 0. 1970-01-01 was a Thursday."""
    return (epoch_days + 3) % 7


def _week_starts(tl: Timeline) -> tuple[npt.NDArray[np.datetime64], IntArray]:
    """Mondays of the weekly tables and how many days of each week the data covers."""
    first = np.datetime64(tl.first_week, "D")
    weeks = np.arange(first, np.datetime64(tl.end, "D") + 1, 7)
    covered = np.minimum(7, (np.datetime64(tl.end, "D") - weeks).astype(np.int64) + 1)
    return weeks, covered


def _epoch_day(d: date) -> int:
    return int(np.datetime64(d, "D").astype(np.int64))


def _categorical(codes: npt.NDArray[np.integer], labels: tuple[str, ...]) -> pa.Array:
    """Codes -> plain string column, built through a dictionary so it stays fast at scale."""
    dictionary = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(labels))
    return dictionary.cast(pa.string())


def _ids(prefix: str, n: int) -> pa.Array:
    """Sequential ids like SR-0000123, zero-padded to at least seven digits."""
    width = max(7, len(str(n)))
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


# --- service requests -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Requests:
    """Column arrays of service requests, kept for the survey that samples from them."""

    type_code: npt.NDArray[np.int8]
    district: npt.NDArray[np.int8]
    channel: npt.NDArray[np.int8]
    opened_s: IntArray
    closed_s: IntArray  # meaningless where open
    is_open: BoolArray
    duplicate: BoolArray


def _daily_rates(tl: Timeline, scale: float) -> FloatArray:
    """Expected requests per (day, type, district): season x weekday x growth x storm."""
    days = np.arange(np.datetime64(tl.start, "D"), np.datetime64(tl.end, "D") + 1)
    epoch = days.astype(np.int64)
    profiles = _PROFILES
    amp = np.array([p.season_amp for p in profiles])
    peak = np.array([p.season_peak for p in profiles])
    season = _seasonal(_day_of_year(days)[:, None], amp[None, :], peak[None, :])

    # People report street problems on weekdays, noise on weekend nights.
    crew_week = np.array([1.18, 1.12, 1.08, 1.05, 1.0, 0.8, 0.77])
    noise_week = np.array([0.8, 0.8, 0.85, 0.9, 1.2, 1.3, 1.15])
    crew = np.array([p.crew for p in profiles])
    week = np.where(crew[None, :], crew_week[:, None] / crew_week.mean(), 0)
    week = week + np.where(crew[None, :], 0, noise_week[:, None] / noise_week.mean())
    weekday = week[_weekday(epoch)]

    # Slow growth in reporting as the app spreads: -5% at the start, +5% at the end.
    growth = 0.95 + 0.10 * (epoch - epoch[0]) / max(1, epoch[-1] - epoch[0])
    events = _event_factors(tl, days)
    share = np.array([p.share for p in profiles])
    lean = np.array([p.lean for p in profiles]) * _POP_SHARE[None, :]
    lean /= lean.sum(axis=1, keepdims=True)
    per_day = _REQUESTS_PER_DAY * scale * share[None, :] * season * weekday * events
    return per_day[:, :, None] * growth[:, None, None] * lean[None, :, :]


def _event_factors(tl: Timeline, days: npt.NDArray[np.datetime64]) -> FloatArray:
    """Storm week and holiday-week multipliers per (day, type)."""
    out = np.ones((len(days), len(REQUEST_TYPES)))
    storm = (days >= np.datetime64(tl.spike_week)) & (days < np.datetime64(tl.spike_week) + 7)
    storm_profile = _STORM_PROFILE[: int(storm.sum())]
    for name, strength in _STORM_TYPES.items():
        out[storm, _TYPE[name]] = 1.0 + strength * (storm_profile - 1.0)
    # Missed-collection calls follow the missed collections themselves (see refuse table).
    mondays = days - ((days.astype(np.int64) + 3) % 7).astype("timedelta64[D]")
    out[:, _TYPE["Missed collection"]] = _holiday_factor(mondays, tl, _REFUSE_HOLIDAYS)
    return out


def _open_times(
    rng: np.random.Generator, tl: Timeline, rates: FloatArray
) -> tuple[IntArray, npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """Draw the requests: Poisson counts per cell, then a time of day per request."""
    counts = rng.poisson(rates).ravel()
    cell = np.repeat(np.arange(counts.size), counts)
    n_types, n_districts = rates.shape[1], rates.shape[2]
    day, rest = np.divmod(cell, n_types * n_districts)
    type_code, district = np.divmod(rest, n_districts)

    # Daytime callers peak mid-morning; noise complaints come in late at night.
    day_hours = np.array([1, 1, 1, 1, 1, 2, 4, 7, 9, 10, 10, 9, 8, 8, 8, 7, 6, 5, 4, 4, 3, 2, 2, 1])
    night_hours = np.array(
        [8, 6, 4, 2, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 4, 5, 6, 8, 10, 12, 10]
    )
    night = type_code == _TYPE["Noise complaint"]
    u = rng.random(cell.size)
    hour = np.where(
        night,
        np.searchsorted(np.cumsum(night_hours) / night_hours.sum(), u, side="right"),
        np.searchsorted(np.cumsum(day_hours) / day_hours.sum(), u, side="right"),
    )
    seconds = hour * 3600 + rng.integers(0, 3600, cell.size)
    opened = (_epoch_day(tl.start) + day) * DAY_S + seconds
    order = np.argsort(opened, kind="stable")
    return opened[order], type_code[order].astype(np.int8), district[order].astype(np.int8)


def _in_pilot(
    tl: Timeline,
    opened: IntArray,
    type_code: npt.NDArray[np.integer],
    district: npt.NDArray[np.integer],
) -> BoolArray:
    """Requests the District 3 dumping pilot handled: opened there on or after its start."""
    return (
        (type_code == _TYPE[_PILOT_TYPE])
        & (district == DISTRICTS.index(_PILOT_DISTRICT))
        & (opened >= _epoch_day(tl.pilot_start) * DAY_S)
    )


def _days_to_close(
    rng: np.random.Generator,
    tl: Timeline,
    opened: IntArray,
    type_code: IntArray,
    district: IntArray,
) -> tuple[FloatArray, BoolArray]:
    """Lognormal days to close per type, with the pilot, the pothole trend and duplicates."""
    median = np.array([p.median_days for p in _PROFILES])[type_code]
    sigma = np.array([p.sigma for p in _PROFILES])[type_code]
    # Some districts' crews are stretched thinner; the same for every type and year.
    district_speed = np.array([0.95, 0.9, 1.0, 0.95, 1.1, 1.15, 1.0])
    median = median * district_speed[district]

    elapsed = (opened - _epoch_day(tl.start) * DAY_S) / (tl.days * DAY_S)
    pothole = type_code == _TYPE["Pothole"]
    median[pothole] *= 1.0 + _POTHOLE_WORSENING * elapsed[pothole]

    median[_in_pilot(tl, opened, type_code, district)] = _PILOT_MEDIAN_DAYS

    days = median * np.exp(sigma * rng.standard_normal(opened.size))
    # About 3% are closed within the hour as duplicates of an earlier report.
    duplicate = rng.random(opened.size) < 0.03
    days[duplicate] = rng.exponential(0.5 / 24, int(duplicate.sum()))
    return days, duplicate


def _close_times(
    rng: np.random.Generator, tl: Timeline, opened: IntArray, days: FloatArray, crew: BoolArray
) -> IntArray:
    """Turn days-to-close into a timestamp a crew could have closed it at."""
    closed = opened + (days * DAY_S).astype(np.int64)
    # Crews close jobs in working hours on weekdays: move multi-day closures there.
    shift = crew & (days >= 1.0)
    closed_day = closed // DAY_S
    weekday = _weekday(closed_day)
    closed_day = closed_day + np.where(weekday == 5, 2, 0) + np.where(weekday == 6, 1, 0)
    working = closed_day * DAY_S + 7 * 3600 + rng.integers(0, 11 * 3600, opened.size)
    return np.where(shift, working, closed)


def _channels(rng: np.random.Generator, tl: Timeline, opened: IntArray) -> npt.NDArray[np.int8]:
    """Channel per request, with the app's share growing steadily over the three years."""
    elapsed = (opened - _epoch_day(tl.start) * DAY_S) / (tl.days * DAY_S)
    cum_start, cum_end = np.cumsum(_CHANNELS_START), np.cumsum(_CHANNELS_END)
    u = rng.random(opened.size)
    channel = np.zeros(opened.size, dtype=np.int8)
    for k in range(len(CHANNELS) - 1):
        # Interpolating the cumulative shares is the same as interpolating the shares.
        threshold = cum_start[k] + elapsed * (cum_end[k] - cum_start[k])
        channel += (u >= threshold).astype(np.int8)
    return channel


def _draw_requests(rng: np.random.Generator, tl: Timeline, scale: float) -> _Requests:
    opened, type_code, district = _open_times(rng, tl, _daily_rates(tl, scale))
    t64, d64 = type_code.astype(np.int64), district.astype(np.int64)
    days, duplicate = _days_to_close(rng, tl, opened, t64, d64)
    crew = np.array([p.crew for p in _PROFILES])[t64]
    closed = _close_times(rng, tl, opened, days, crew)
    # Open if not yet closed when the extract ran, or lost in the backlog for good.
    lost = rng.random(opened.size) < np.array([p.never_closed for p in _PROFILES])[t64]
    is_open = (closed >= (_epoch_day(tl.end) + 1) * DAY_S) | (lost & ~duplicate)
    channel = _channels(rng, tl, opened)
    return _Requests(type_code, district, channel, opened, closed, is_open, duplicate)


def _requests_table(req: _Requests) -> pa.Table:
    ts = pa.timestamp("us")
    closed = pa.array(req.closed_s * 1_000_000, type=ts, mask=req.is_open)
    status = _categorical(np.where(req.is_open, 0, 1), ("open", "closed"))
    return pa.table(
        {
            "request_id": _ids("SR-", req.opened_s.size),
            "request_type": _categorical(req.type_code, REQUEST_TYPES),
            "district": _categorical(req.district, DISTRICTS),
            "opened_at": pa.array(req.opened_s * 1_000_000, type=ts),
            "closed_at": closed,
            "channel": _categorical(req.channel, CHANNELS),
            "status": status,
        }
    )


# --- refuse collection ----------------------------------------------------------------------


def _refuse_table(rng: np.random.Generator, tl: Timeline) -> pa.Table:
    """Weekly carts scheduled and missed per district; holiday weeks slip."""
    weeks, covered = _week_starts(tl)
    # Collections run Monday to Friday, so a partial last week has only the days so far.
    workdays = np.minimum(covered, 5)
    households = np.round(_POPULATION / 2.5)
    scheduled = np.round(
        households[None, :]
        * workdays[:, None]
        / 5
        * (1 + 0.003 * rng.standard_normal((len(weeks), 7)))
    ).astype(np.int64)
    miss_rate = 0.0012 * np.array([0.8, 0.9, 1.2, 0.9, 1.1, 1.3, 1.0])
    holiday = _holiday_factor(weeks, tl, _REFUSE_HOLIDAYS)
    # Week-to-week wobble (a truck down, a crew short) on top of Poisson noise.
    wobble = rng.gamma(20.0, 1 / 20.0, (len(weeks), 7))
    missed = rng.poisson(scheduled * miss_rate[None, :] * holiday[:, None] * wobble)
    return _weekly_table(
        weeks,
        {
            "scheduled_collections": scheduled,
            "missed_collections": np.minimum(missed, scheduled),
        },
    )


def _weekly_table(weeks: npt.NDArray[np.datetime64], counts: Mapping[str, IntArray]) -> pa.Table:
    """Long format: one row per (week, district), counts given as (weeks, districts) arrays."""
    n = len(weeks)
    columns: dict[str, pa.Array] = {
        "week_start": pa.array(np.repeat(weeks, 7), type=pa.date32()),
        "district": _categorical(np.tile(np.arange(7), n), DISTRICTS),
    }
    for name, values in counts.items():
        columns[name] = pa.array(values.ravel().astype(np.int32))
    return pa.table(columns)


# --- shootings ------------------------------------------------------------------------------

_SHOOTINGS_PER_YEAR = 400.0
_SHOOTING_SHARE = np.array([0.03, 0.07, 0.15, 0.06, 0.27, 0.33, 0.09])


def _shootings_table(rng: np.random.Generator, tl: Timeline) -> pa.Table:
    """Weekly shootings and homicides per district: small Poisson counts, summer peak."""
    weeks, covered = _week_starts(tl)
    season = _seasonal(_day_of_year(weeks + 3), 0.30, 190)
    holiday = _holiday_factor(weeks, tl, {"july4": 1.7, "new_year": 1.5})
    # A gentle decline, like most US cities since 2022: about -8% a year.
    years = (weeks - weeks[0]).astype(np.int64) / 365.25
    decline = 0.92 ** (years - years.mean())
    weekly = _SHOOTINGS_PER_YEAR / 52 * season * holiday * decline * covered / 7
    shootings = rng.poisson(weekly[:, None] * _SHOOTING_SHARE[None, :])
    # About one shooting in six is fatal; a few homicides each year involve no gun.
    homicides = rng.binomial(shootings, 0.16) + rng.poisson(
        8.0 / 52 * (covered / 7)[:, None] * _SHOOTING_SHARE[None, :]
    )
    return _weekly_table(weeks, {"shootings": shootings, "homicides": homicides})


# --- housing --------------------------------------------------------------------------------


def _months(tl: Timeline) -> tuple[list[date], FloatArray]:
    """First days of each month and the share of each month the data covers."""
    months = [_add_months(tl.start, i) for i in range(37) if _add_months(tl.start, i) <= tl.end]
    covered = [
        min(1.0, ((tl.end - m).days + 1) / calendar.monthrange(m.year, m.month)[1]) for m in months
    ]
    return months, np.array(covered)


def _housing_table(rng: np.random.Generator, tl: Timeline) -> pa.Table:
    """Monthly placements and point-in-time counts for the three homelessness programs."""
    months, covered = _months(tl)
    month_no = np.array([m.month for m in months])
    winter = np.isin(month_no, (12, 1, 2, 3))
    rrh = _housed_stock(rng, 45.0 * covered, 550, 0.08)
    psh = _housed_stock(rng, 22.0 * covered, 1_850, 0.012)
    # Shelter: entries each month; occupancy near capacity, plus winter beds Dec-Mar.
    entries = rng.poisson(260.0 * covered)
    beds = 1_050 + 150 * winter
    occupancy = np.clip(0.95 + 0.015 * rng.standard_normal(len(months)), 0.88, 1.0)
    sheltered = np.round(beds * occupancy).astype(np.int64)
    placements = np.stack([rrh[0], psh[0], entries], axis=1)
    people = np.stack([rrh[1], psh[1], sheltered], axis=1)
    return pa.table(
        {
            "month": pa.array(np.repeat(np.array(months, dtype="datetime64[D]"), 3)),
            "program": _categorical(np.tile(np.arange(3), len(months)), PROGRAMS),
            "placements": pa.array(placements.ravel().astype(np.int32)),
            "people_sheltered": pa.array(people.ravel().astype(np.int32)),
        }
    )


def _housed_stock(
    rng: np.random.Generator, intake: FloatArray, level: int, exit_rate: float
) -> tuple[IntArray, IntArray]:
    """Placements and month-end enrolment as stock and flow: people in = placed - exits.

    A 37-step loop is fine here: each month's exits depend on last month's level.
    """
    placements = rng.poisson(intake)
    people = np.empty(len(intake), dtype=np.int64)
    for i, placed in enumerate(placements):
        level = level + int(placed) - int(rng.binomial(level, exit_rate))
        people[i] = level
    return placements, people


# --- satisfaction survey --------------------------------------------------------------------

# Appetite to answer a survey by channel: app users tap a star, phone callers rarely call back.
_SURVEY_RESPONSE = np.array([0.7, 1.5, 1.2, 1.0, 0.5])
_SCORE_CUTS = np.array([-1.3, -0.5, 0.1, 0.9])  # latent satisfaction -> scores 1..5


def _survey_table(rng: np.random.Generator, tl: Timeline, req: _Requests, scale: float) -> pa.Table:
    """Responses sampled from closed requests; faster closure, happier resident."""
    eligible = np.flatnonzero(~req.is_open)
    weight = _SURVEY_RESPONSE[req.channel[eligible]]
    target = _SURVEYS_PER_SCALE * scale * tl.days
    take = rng.random(eligible.size) < np.minimum(1.0, weight * target / weight.sum())
    rows = eligible[take]
    # Residents answer within a few days of the closure email; later answers miss the extract.
    responded = req.closed_s[rows] // DAY_S + rng.geometric(0.35, rows.size) - 1
    kept = responded <= _epoch_day(tl.end)
    rows, responded = rows[kept], responded[kept]

    days = (req.closed_s[rows] - req.opened_s[rows]) / DAY_S
    expected = np.array([p.median_days for p in _PROFILES])[req.type_code[rows]]
    speed = -0.55 * np.clip(np.log(np.maximum(days, 1e-3) / expected), -1.5, 2.5)
    # The pilot crews also text the resident a photo of the cleared site.
    photo = _in_pilot(tl, req.opened_s[rows], req.type_code[rows], req.district[rows])
    # Closed as a duplicate within the hour reads as "closed without doing anything".
    latent = 0.35 + speed + 0.3 * photo - 1.0 * req.duplicate[rows]
    latent += 1.2 * rng.standard_normal(rows.size)
    score = 1 + np.searchsorted(_SCORE_CUTS, latent)

    order = np.lexsort((rows, responded))
    rows, responded, score = rows[order], responded[order], score[order]
    return pa.table(
        {
            "response_id": _ids("CS-", rows.size),
            "responded_on": pa.array(responded.astype("datetime64[D]"), type=pa.date32()),
            "channel": _categorical(req.channel[rows], CHANNELS),
            "request_type": _categorical(req.type_code[rows], REQUEST_TYPES),
            "district": _categorical(req.district[rows], DISTRICTS),
            "score": pa.array(score.astype(np.int32)),
            "satisfied": pa.array(score >= 4),
        }
    )


# --- population -----------------------------------------------------------------------------


def _population_table() -> pa.Table:
    """Residents per district (the census estimate the city plans with): rates' denominators."""
    return pa.table(
        {
            "district": pa.array(DISTRICTS),
            "population": pa.array(_POPULATION.astype(np.int64)),
        }
    )


# --- entry point ----------------------------------------------------------------------------


def generate_city_data(
    seed: int = 2026, scale: float = 1.0, as_of: date | None = None
) -> dict[str, pa.Table]:
    """All demo-city tables, keyed by warehouse table name.

    The same (seed, scale, as_of) always gives identical tables. Each table draws from its own
    child generator, so changing one table's recipe leaves the others' numbers alone.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    tl = timeline_for(as_of or date.today())
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]
    requests = _draw_requests(streams[0], tl, scale)
    return {
        "service_requests": _requests_table(requests),
        "refuse_collection": _refuse_table(streams[1], tl),
        "shootings": _shootings_table(streams[2], tl),
        "housing": _housing_table(streams[3], tl),
        "satisfaction_survey": _survey_table(streams[4], tl, requests, scale),
        "district_population": _population_table(),
    }
