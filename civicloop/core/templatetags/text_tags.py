from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from civicloop.core.markdown import render

register = template.Library()


@register.filter
def error_count(form: Any) -> int:
    """Every message a form shows (a field with two problems counts two)."""
    return sum(len(errors) for errors in form.errors.values())


@register.filter(name="markdown")
def markdown_filter(text: str | None) -> SafeString:
    """{{ a3.background|markdown }}: the text as sanitised HTML (see civicloop.core.markdown)."""
    return mark_safe(render(text or ""))  # noqa: S308 - nh3 has cleaned it
