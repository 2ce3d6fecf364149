"""Numbers as people read them: 1,204 rows; 2.3 GB."""

from __future__ import annotations

from django import template

from civicloop.datasets.forms import human_size

register = template.Library()


@register.filter
def thousands(value: object) -> str:
    """1204 -> '1,204'; anything that is not a whole number is shown as it is."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "" if value is None else str(value)
    return f"{value:,}"


@register.filter
def filesize(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return ""
    return human_size(value)
