"""People's text as Markdown, made safe: rendered, then cleaned to a short list of tags.

Markdown lets a team write lists, emphasis and links in an A3 or a commentary; everything it
does not need (scripts, styles, images, raw HTML attributes) is removed by nh3 after rendering,
so what a person types can never run in another person's browser.
"""

from __future__ import annotations

import re

import markdown as md
import nh3

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr",
    "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"scope"}}
URL_SCHEMES = {"http", "https", "mailto"}
_HEADING = re.compile(r"<(/?)h([1-6])>")


def render(text: str) -> str:
    """Markdown to clean HTML. Headings start at h3: the page has its own h1 and h2."""
    if not text or not text.strip():
        return ""
    html = md.markdown(text, extensions=["sane_lists", "tables"], output_format="html")
    html = _HEADING.sub(lambda m: f"<{m[1]}h{min(int(m[2]) + 2, 6)}>", html)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
