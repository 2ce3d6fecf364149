from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "civicloop.organizations"
    label = "organizations"
    verbose_name = "Organizations and teams"
