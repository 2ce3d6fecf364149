"""The dashboard's data, kept per process until something it shows may have changed.

Building a 40-metric dashboard reads a dozen tables and formats every card; twenty people
watching the same team would rebuild the same thing many times a minute. So the data is kept
in memory, keyed by the team, the person (what they may see differs), the breakdown chosen,
the day, and a shared counter (`Stamp` "dashboard") that moves whenever anything the
dashboard shows may have changed:
- any successful POST, PUT, PATCH or DELETE to the app (every change a person makes);
- saving or deleting the rows behind the cards and panels (metrics and their versions, runs,
  datasets and their versions and agreements, memberships, meetings, actions, commentary,
  cadences, objectives, key results and check-ins, A3s), whoever saves them (the worker, the
  command line);
- a metric's new series being stored.
Entries also expire after CIVICLOOP_DASHBOARD_CACHE_SECONDS (300 by default; 0 keeps
nothing), so anything changed another way (an SQL update by
hand) shows within that time, as does the passing of time itself (data going stale).
Each process keeps its own entries; the counter lives in the database, shared by all.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from threading import Lock
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

NAME = "dashboard"
MAX_ENTRIES = 512

_entries: OrderedDict[tuple[Any, ...], tuple[float, dict[str, Any]]] = OrderedDict()
_lock = Lock()


def stamp() -> int:
    from civicloop.meetings.models import Stamp

    value = Stamp.objects.filter(name=NAME).values_list("value", flat=True).first()
    return int(value) if value is not None else 0


def bump(**_: Any) -> None:
    """Move the counter: every process's kept dashboards are rebuilt on their next view."""
    from civicloop.meetings.models import Stamp

    if Stamp.objects.filter(name=NAME).update(value=F("value") + 1):
        return
    try:
        with transaction.atomic():
            Stamp.objects.create(name=NAME, value=1)
    except IntegrityError:  # made meanwhile by another process
        Stamp.objects.filter(name=NAME).update(value=F("value") + 1)


def cached(
    key: tuple[Any, ...], today: date, build: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """The kept data for `key` if nothing changed since it was built, else `build()`."""
    keep = settings.DASHBOARD_CACHE_SECONDS
    if keep <= 0:
        return build()
    full = (*key, today, stamp())
    now = time.monotonic()
    with _lock:
        hit = _entries.get(full)
        if hit is not None and hit[0] > now:
            _entries.move_to_end(full)
            return hit[1]
    data = build()
    with _lock:
        _entries[full] = (now + keep, data)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return data


def clear() -> None:
    with _lock:
        _entries.clear()


class BumpOnChange:
    """Middleware: a successful change through the app moves the counter."""

    CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        if request.method in self.CHANGES and response.status_code < 400:
            bump()
        return response


def connect() -> None:
    """Bump on saves and deletes of what dashboards show (called once, from AppConfig.ready)."""
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from civicloop.datasets.models import Dataset, DatasetVersion, DataSharingAgreement
    from civicloop.improvement.models import A3, PlanAction
    from civicloop.meetings.models import Action, Cadence, Commentary, Meeting
    from civicloop.metrics.models import Metric, MetricVersion, SeriesRun
    from civicloop.metrics.signals import series_stored
    from civicloop.okrs.models import CheckIn, KeyResult, Objective
    from civicloop.organizations.models import Membership, Team

    for model in (
        Team,
        Membership,
        Dataset,
        DatasetVersion,
        DataSharingAgreement,
        Metric,
        MetricVersion,
        SeriesRun,
        Meeting,
        Action,
        Commentary,
        Cadence,
        Objective,
        KeyResult,
        CheckIn,
        A3,
        PlanAction,
    ):
        post_save.connect(bump, sender=model, dispatch_uid=f"dashboard-save-{model.__name__}")
        post_delete.connect(bump, sender=model, dispatch_uid=f"dashboard-del-{model.__name__}")
    m2m_changed.connect(
        bump,
        sender=DataSharingAgreement.organizations.through,
        dispatch_uid="dashboard-agreement-orgs",
    )
    series_stored.connect(bump, dispatch_uid="dashboard-series-stored")
