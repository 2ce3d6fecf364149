"""HTML to PDF with WeasyPrint, for every printable page (OKR reports, A3 sheets).

WeasyPrint needs the Pango library from the OS; without it `html_class` raises PdfUnavailable
with the fix, and the pages' HTML prints the same sheet from the browser.
"""

from __future__ import annotations

import logging
from typing import Any


class PdfUnavailable(Exception):
    pass


class _BrowserOnlyCss(logging.Filter):
    """WeasyPrint always prints backgrounds and does not know `print-color-adjust`, which
    tells browsers to print colours: no warning for that."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "print-color-adjust" not in record.getMessage()


_QUIET = _BrowserOnlyCss()


def html_class() -> Any:
    """WeasyPrint's HTML class, or PdfUnavailable saying how to install what it needs."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as error:  # OSError: the Pango library is missing
        raise PdfUnavailable(
            "PDF export needs WeasyPrint and the Pango library (Debian: apt-get install "
            "libpango-1.0-0 libpangoft2-1.0-0). The HTML page prints the same sheet from the "
            f"browser. ({error})"
        ) from None
    logging.getLogger("weasyprint").addFilter(_QUIET)  # once: the same filter object
    return HTML
