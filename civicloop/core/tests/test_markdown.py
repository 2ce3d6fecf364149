"""People's text as Markdown: what a team needs (lists, emphasis, links, tables) is kept; what
could run in another person's browser (scripts, event handlers, javascript: links, images,
styles, frames) is removed; headings are demoted under the page's own h1 and h2."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.utils.safestring import SafeString

from civicloop.core.markdown import render

REL = 'rel="noopener noreferrer nofollow"'


@pytest.mark.parametrize(
    "typed",
    [
        "<script>alert('x')</script>",
        "Before <script src='https://evil.example/x.js'></script> after",
        "<SCRIPT>alert(1)</SCRIPT>",
        "<scr<script>ipt>alert(1)</script>",
        "<style>body { display: none }</style>",
        '<iframe src="https://evil.example"></iframe>',
        '<object data="x.swf"></object><embed src="x.swf">',
        '<form action="https://evil.example"><input name="p"></form>',
        '<svg onload="alert(1)"><circle r="5"/></svg>',
    ],
)
def test_scripts_styles_frames_and_forms_are_removed(typed: str) -> None:
    html = render(typed).lower()
    for tag in ("<script", "<style", "<iframe", "<object", "<embed", "<form", "<input", "<svg"):
        assert tag not in html
    # What was inside them goes too (not left as text that looks like code).
    for inside in ("alert(", "display: none", "evil.example", "x.swf"):
        assert inside not in html


def test_the_text_around_a_script_is_kept_without_it() -> None:
    assert render("Before <script>alert(1)</script> after") == "<p>Before  after</p>"


@pytest.mark.parametrize(
    "typed",
    [
        '<p onclick="alert(1)">Click</p>',
        '<a href="https://example.org" onmouseover="alert(1)">link</a>',
        '<b onmouseover="alert(1)">bold</b>',
        '<img src="x" onerror="alert(1)">',
        "<p style=\"background:url('javascript:alert(1)')\">styled</p>",
        '<p class="admin" id="x">classes</p>',
    ],
)
def test_event_handlers_and_other_attributes_are_removed(typed: str) -> None:
    html = render(typed)
    for attribute in ("onclick", "onmouseover", "onerror", "style=", "class=", "id="):
        assert attribute not in html


@pytest.mark.parametrize(
    "typed",
    [
        "[click](javascript:alert(1))",
        "[click](JavaScript:alert(1))",
        '<a href="javascript:alert(1)">click</a>',
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[click](vbscript:msgbox(1))",
    ],
)
def test_links_to_scripts_lose_their_address_but_keep_their_words(typed: str) -> None:
    html = render(typed)
    assert "click" in html
    assert "href" not in html
    for scheme in ("javascript", "data:", "vbscript"):
        assert scheme not in html.lower()


@pytest.mark.parametrize(
    "typed",
    [
        "![A pile of rubbish](https://example.org/pile.png)",
        '<img src="https://example.org/pile.png" alt="A pile of rubbish">',
    ],
)
def test_images_are_removed(typed: str) -> None:
    html = render(typed)
    assert "<img" not in html and "pile.png" not in html


def test_lists_are_kept() -> None:
    assert render("- Crews\n- Trucks") == "<ul>\n<li>Crews</li>\n<li>Trucks</li>\n</ul>"
    assert render("1. Ask why\n2. Ask again") == "<ol>\n<li>Ask why</li>\n<li>Ask again</li>\n</ol>"


def test_emphasis_and_code_are_kept() -> None:
    assert render("**nine days**, *often* `D3`") == (
        "<p><strong>nine days</strong>, <em>often</em> <code>D3</code></p>"
    )


def test_links_are_kept_with_a_safe_rel() -> None:
    assert render("[The survey](https://example.org/survey)") == (
        f'<p><a href="https://example.org/survey" {REL}>The survey</a></p>'
    )
    assert render("[Write to us](mailto:clean@example.org)") == (
        f'<p><a href="mailto:clean@example.org" {REL}>Write to us</a></p>'
    )
    # A link typed with its own rel or target gets the safe rel and nothing else.
    typed = '<a href="https://example.org" rel="opener" target="_blank">Go</a>'
    assert render(typed) == f'<p><a href="https://example.org" {REL}>Go</a></p>'


def test_quotes_and_tables_are_kept() -> None:
    assert render("> I waited three weeks.") == (
        "<blockquote>\n<p>I waited three weeks.</p>\n</blockquote>"
    )
    table = render("| District | Days |\n|---|---|\n| D3 | 9 |")
    assert "<table>" in table and "<th>District</th>" in table and "<td>9</td>" in table


@pytest.mark.parametrize(
    ("typed", "level"),
    [("# Title", 3), ("## Part", 4), ("### Point", 5), ("#### Detail", 6), ("##### Small", 6)],
)
def test_headings_are_demoted_below_the_page_s_own(typed: str, level: int) -> None:
    words = typed.lstrip("# ")
    assert render(typed) == f"<h{level}>{words}</h{level}>"


def test_headings_are_each_demoted_once() -> None:
    assert render("# One\n\n## Two\n\n### Three") == "<h3>One</h3>\n<h4>Two</h4>\n<h5>Three</h5>"
    assert "<h1" not in render("<h1>Raw</h1>") and "<h2" not in render("<h2>Raw</h2>")


def test_empty_text_renders_nothing() -> None:
    assert render("") == "" and render("  \n ") == ""


def test_html_typed_as_text_is_escaped_not_run() -> None:
    assert render("Use `<script>` tags?") == "<p>Use <code>&lt;script&gt;</code> tags?</p>"
    assert render("5 < 7 & 9 > 2") == "<p>5 &lt; 7 &amp; 9 &gt; 2</p>"


def test_the_template_filter_gives_safe_clean_html() -> None:
    template = Template("{% load text_tags %}<div>{{ text|markdown }}</div>")
    page = template.render(Context({"text": "**Bold** <script>alert(1)</script>"}))
    assert page == "<div><p><strong>Bold</strong> </p></div>"
    assert template.render(Context({"text": None})) == "<div></div>"
    from civicloop.core.templatetags.text_tags import markdown_filter

    assert isinstance(markdown_filter("*x*"), SafeString)
