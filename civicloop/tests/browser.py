"""Helpers for the real-browser tests: find Chromium, run axe-core, explain what to fix.

Playwright drives Debian's Chromium (/usr/bin/chromium); Playwright's own browser download is
never used. axe-core is the copy bundled with axe-playwright-python, injected into each page.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# WCAG 2.2 AA as axe-core tags it: every level-A and AA rule of 2.0, 2.1 and 2.2.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def missing_browser_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return 'The playwright package is not installed: pip install -e ".[test]"'
    try:
        import axe_playwright_python  # noqa: F401
    except ImportError:
        return 'The axe-playwright-python package is not installed: pip install -e ".[test]"'
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM}: apt-get install chromium"
    return None


def require_browser() -> None:
    """Skip when the browser is missing on a workstation; fail on CI, where it must be there."""
    reason = missing_browser_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but the browser test cannot run. {reason}", pytrace=False)
    pytest.skip(reason)


def axe_script() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text("utf-8")


def format_violations(url: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"axe-core found {len(violations)} accessibility violation(s) on {url}:"]
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation.get('impact')}): {violation['help']}"
            f" <{violation.get('helpUrl', '')}>"
        )
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            lines.append(f"    at {target}: {node.get('failureSummary', '').strip()}")
            lines.append(f"      {node.get('html', '')[:200]}")
    return "\n".join(lines)


def assert_accessible(page: Any, script: str) -> None:
    """Run axe-core on the page as it is now and fail with a to-fix list on any violation."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(script)
    result = page.evaluate(
        """async (tags) => await axe.run(document, {
            runOnly: {type: "tag", values: tags},
            resultTypes: ["violations"],
        })""",
        AXE_TAGS,
    )
    violations = result["violations"]
    assert not violations, format_violations(page.url, violations)
    # Django 5.2 points aria-describedby at "<id>_helptext" and "<id>_error"; axe only marks
    # dangling references "needs review", so check them here: every id must exist.
    dangling = page.evaluate(
        """() => [...document.querySelectorAll("[aria-describedby], [aria-labelledby]")]
            .flatMap(el => ["aria-describedby", "aria-labelledby"]
                .flatMap(attr => (el.getAttribute(attr) || "").split(/\\s+/).filter(Boolean))
                .filter(id => !document.getElementById(id))
                .map(id => `${el.tagName.toLowerCase()}#${el.id} -> ${id}`))"""
    )
    assert not dangling, f"ARIA references to missing ids on {page.url}: {dangling}"
