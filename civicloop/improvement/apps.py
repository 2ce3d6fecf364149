from django.apps import AppConfig


class ImprovementConfig(AppConfig):
    name = "civicloop.improvement"
    label = "improvement"
    verbose_name = "Improvement work: A3 projects and PDSA cycles"
