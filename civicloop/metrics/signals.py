"""Signals other apps listen to. `series_stored` is sent after a metric's new series are saved
(committed), so whatever follows the metric (key results) can take the new values."""

from django.dispatch import Signal

series_stored = Signal()  # sender=Metric class, metric=the Metric, run=the SeriesRun
