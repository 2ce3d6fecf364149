from django.apps import AppConfig


class OkrsConfig(AppConfig):
    name = "civicloop.okrs"
    label = "okrs"
    verbose_name = "Objectives and key results"

    def ready(self) -> None:
        from civicloop.metrics.signals import series_stored

        series_stored.connect(_follow_metric, dispatch_uid="okrs-follow-metric")


def _follow_metric(sender: object, metric: object, **kwargs: object) -> None:
    """A metric was recomputed: the key results that track it take its new value."""
    from civicloop.okrs.services import follow_metric

    follow_metric(metric)  # type: ignore[arg-type]
