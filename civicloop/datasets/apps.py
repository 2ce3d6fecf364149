from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "civicloop.datasets"
    label = "datasets"
    verbose_name = "Data sharing"
