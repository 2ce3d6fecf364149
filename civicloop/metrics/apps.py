from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "civicloop.metrics"
    label = "metrics"
    verbose_name = "Shared measures"

    def ready(self) -> None:
        from civicloop.datasets.signals import current_version_changed

        current_version_changed.connect(_recompute_after_load, dispatch_uid="metrics-refresh")


def _recompute_after_load(sender: object, dataset: object, **kwargs: object) -> None:
    """Incremental refresh: only the metrics that read the changed dataset recompute."""
    from civicloop.metrics.services import refresh_for_dataset

    refresh_for_dataset(dataset)  # type: ignore[arg-type]
