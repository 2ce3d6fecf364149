from django.apps import AppConfig


class MeetingsConfig(AppConfig):
    name = "civicloop.meetings"
    label = "meetings"
    verbose_name = "Meetings, packs and weeknotes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from civicloop.meetings import cache

        cache.connect()
