"""Signals other apps listen to, so the data app never imports them."""

from django.dispatch import Signal

# Sent with `dataset` after a load or a rollback made another version current; the metrics app
# recomputes the metrics that read that dataset.
current_version_changed = Signal()
