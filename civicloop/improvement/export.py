"""An A3 on one page: HTML to print from the browser, and the same HTML as an A3-landscape PDF
(WeasyPrint), charts and fishbone included.

A3 thinking is constrained to one sheet, so the print is laid out to fit one: when the text is
long, everything is scaled down in steps (to 55 % at the least) until WeasyPrint lays it out
on one page. The browser print uses the same scale. An A3 too long even then runs onto a second
sheet, and the print says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from civicloop.core import pdf
from civicloop.core.pdf import PdfUnavailable
from civicloop.improvement import api, fishbone

if TYPE_CHECKING:
    from civicloop.accounts.models import User
    from civicloop.improvement.models import A3

__all__ = ["PdfUnavailable", "filename", "print_data", "render_html", "render_pdf"]

SCALES = (1.0, 0.9, 0.8, 0.7, 0.62, 0.55)


def _sizes(scale: float) -> dict[str, str]:
    """Type and chart sizes at a scale, as CSS lengths."""
    return {
        "body": f"{8.6 * scale:.2f}pt",
        "small": f"{7.4 * scale:.2f}pt",
        "h1": f"{17 * scale:.2f}pt",
        "h2": f"{10.5 * scale:.2f}pt",
        "h3": f"{9 * scale:.2f}pt",
        "chart": f"{62 * scale:.1f}mm",
        "study": f"{78 * scale:.1f}mm",
        "fishbone": f"{150 * scale:.1f}mm",
    }


def filename(a3: A3) -> str:
    return f"a3-{a3.pk}-{slugify(a3.title)[:50]}"


def print_data(a3: A3, user: User) -> dict[str, Any]:
    """The A3's data with its charts drawn as PNG (printers and WeasyPrint take them best)."""
    data = api.a3_detail_data(a3, user, for_print=True)
    for chart in data["current_condition"]["charts"]:
        drawn = chart.get("drawn")
        chart["image"] = drawn.png_data_uri() if drawn else None
    for chart in data["follow_up"]["charts"][:1]:  # one on paper: the main measure, now
        chart["image"] = chart["drawn"].png_data_uri()
    for cm in data["countermeasures"]:
        for cycle in cm["cycles"]:
            drawn = cycle.get("drawn")
            cycle["image"] = drawn.png_data_uri() if drawn else None
    root = data["root_cause"]
    data["has_causes"] = any(b["causes"] for b in root["fishbone"])
    data["fishbone_svg"] = fishbone.fishbone_svg(
        root["problem"], root["fishbone"], title_id="print-fishbone-title"
    )
    data["generated"] = f"{timezone.localtime():%d %b %Y, %H:%M}"
    data["scale"], data["sz"] = 1.0, _sizes(1.0)
    data["overflow"] = False
    return data


def _html(data: dict[str, Any]) -> str:
    return render_to_string("improvement/print.html", data)


def fit(data: dict[str, Any]) -> Any:
    """Lay the sheet out at the largest scale that fits one page (found by bisection over
    SCALES: a smaller scale never takes more pages); the laid-out document."""
    html_class = pdf.html_class()
    layouts: dict[int, Any] = {}

    def layout(index: int) -> Any:
        if index not in layouts:
            data["scale"], data["sz"] = SCALES[index], _sizes(SCALES[index])
            layouts[index] = html_class(string=_html(data)).render()
        return layouts[index]

    if len(layout(0).pages) == 1:
        return _chosen(data, 0, layouts)
    low, high = 0, len(SCALES) - 1  # low does not fit; is high small enough?
    if len(layout(high).pages) > 1:
        data["overflow"] = True
        return html_class(string=_html(data)).render()
    while high - low > 1:
        middle = (low + high) // 2
        if len(layout(middle).pages) == 1:
            high = middle
        else:
            low = middle
    return _chosen(data, high, layouts)


def _chosen(data: dict[str, Any], index: int, layouts: dict[int, Any]) -> Any:
    data["scale"], data["sz"] = SCALES[index], _sizes(SCALES[index])
    return layouts[index]


def render_html(a3: A3, user: User) -> str:
    data = print_data(a3, user)
    try:
        fit(data)  # the scale that fits one sheet, found by laying it out
    except PdfUnavailable:
        data["scale"], data["sz"] = 1.0, _sizes(1.0)
    return _html(data)


def render_pdf(a3: A3, user: User) -> bytes:
    return pdf_with_pages(a3, user)[0]


def pdf_with_pages(a3: A3, user: User) -> tuple[bytes, int]:
    document = fit(print_data(a3, user))
    return bytes(document.write_pdf()), len(document.pages)
