"""The background worker: runs queued loads and metric refreshes outside the request thread.

It is a thread inside the `civicloop serve` process rather than a separate server, because
DuckDB lets one process write the warehouse and the web process already holds it. Work is
queued in the app database (an IngestRun with status "queued"), so nothing is lost if the
process stops: on start the worker first reconciles (interrupted runs are marked, unfinished
tables dropped), then picks up whatever is still queued.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections, transaction

log = logging.getLogger(__name__)


def claim_next_run() -> int | None:
    """Take the oldest queued run, so two workers never do the same one."""
    from civicloop.datasets.models import IngestRun, RunStatus

    with transaction.atomic():
        run = (
            IngestRun.objects.select_for_update()
            .filter(status=RunStatus.QUEUED)
            .order_by("created_at")
            .first()
        )
        if run is None:
            return None
        run.status = RunStatus.RUNNING
        run.save(update_fields=["status"])
        return run.pk


def run_pending(limit: int | None = None) -> int:
    """Do queued loads now, in this thread; returns how many ran."""
    from civicloop.datasets.models import IngestRun
    from civicloop.datasets.services import run_load_now
    from civicloop.warehouse import Warehouse

    done = 0
    while limit is None or done < limit:
        run_id = claim_next_run()
        if run_id is None:
            break
        run = IngestRun.objects.select_related("dataset", "dataset__current_version").get(pk=run_id)
        run_load_now(run, Warehouse.default())
        done += 1
    return done


def refresh_due() -> int:
    """Refresh every dataset whose daily time has come; returns how many were refreshed."""
    from civicloop.datasets.refresh import due_datasets, refresh_dataset
    from civicloop.warehouse import Warehouse

    due = due_datasets()
    for dataset in due:
        refresh_dataset(dataset, Warehouse.default())
    return len(due)


def remind_due() -> int:
    """Email key result owners whose check-in is due; each due date is reminded once, so this
    is safe to call every minute. Returns how many emails were sent."""
    from civicloop.okrs.services import send_reminders

    return send_reminders().emails


def meetings_due() -> int:
    """Schedule each team's cadence twelve weeks ahead; three days before a meeting, draft its
    agenda and ask for commentary; on Mondays draft last week's weeknotes. Each is
    idempotent, so this is safe to call every minute. Returns how many things were done."""
    from civicloop.meetings.services import prepare_due, schedule_all
    from civicloop.meetings.weeknotes import weekly_drafts

    return schedule_all() + len(prepare_due()) + weekly_drafts()


# Set when a metric definition changed; the worker then recomputes what is out of date. Loads
# recompute their own metrics as they finish, and the worker catches up once when it starts.
_metrics_due = threading.Event()


def enqueue_metric_refresh() -> None:
    _metrics_due.set()
    nudge()


def refresh_metrics_if_due() -> int:
    """Recompute out-of-date metrics if a definition changed; returns how many were computed."""
    if not _metrics_due.is_set():
        return 0
    _metrics_due.clear()
    from civicloop.metrics.services import refresh

    return len(refresh().computed)


class Worker(threading.Thread):
    def __init__(self, poll_seconds: float = 1.0) -> None:
        super().__init__(name="civicloop-worker", daemon=True)
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self.wake = threading.Event()

    def run(self) -> None:
        from civicloop.datasets.services import reconcile
        from civicloop.warehouse import Warehouse

        try:
            for note in reconcile(Warehouse.default()):
                log.warning("recovered: %s", note)
        except Exception:
            log.exception("reconcile failed")
        last_schedule_check = 0.0
        _metrics_due.set()  # catch up on anything left out of date by the last process
        while not self.stopping.is_set():
            try:
                run_pending()
                refresh_metrics_if_due()
                if time.monotonic() - last_schedule_check >= 60:
                    last_schedule_check = time.monotonic()
                    refresh_due()
                    remind_due()
                    meetings_due()
            except Exception:
                log.exception("background work failed")
            finally:
                close_old_connections()
            self.wake.wait(self.poll_seconds)
            self.wake.clear()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()


_worker: Worker | None = None


def start_worker() -> Worker:
    global _worker
    if _worker is None or not _worker.is_alive():
        _worker = Worker()
        _worker.start()
    return _worker


def nudge() -> None:
    """Tell the worker there is new work, so an upload starts at once rather than next poll."""
    if _worker is not None:
        _worker.wake.set()
