from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "civicloop.core"
    label = "core"
    verbose_name = "civicloop core"

    def ready(self) -> None:
        from civicloop.core import checks  # noqa: F401  (registers system checks)
