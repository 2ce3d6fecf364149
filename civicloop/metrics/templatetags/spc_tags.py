"""`{% spc_icons variation direction assurance %}`: the variation and assurance icons, inline."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from civicloop.spc import icons

register = template.Library()


@register.simple_tag
def spc_icons(
    variation: str | None, direction: str, assurance: str | None, size: int = 40
) -> SafeString:
    """Both icons; each is an SVG with role="img" and a <title> naming what it means. Built by
    civicloop.spc.icons from fixed names only (no user text), so safe to mark."""
    svg = icons.variation_icon(variation or None, direction, size=size)
    svg += icons.assurance_icon(assurance or None, size=size)
    return mark_safe(svg)  # noqa: S308
