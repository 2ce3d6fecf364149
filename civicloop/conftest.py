"""Fixtures shared by every app's tests: the personas of a small city."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from civicloop.testing import Personas, make_personas


@pytest.fixture(autouse=True)
def _fresh_dashboard_caches() -> Iterator[None]:
    """The dashboard's per-process caches are keyed by database ids, which the test database
    reuses after each test's rollback: start every test without them."""
    from civicloop.meetings import attention, cache, pack

    cache.clear()
    attention.clear()
    pack.clear()
    yield


@pytest.fixture
def personas(db: None) -> Personas:
    return make_personas()


@pytest.fixture
def client_as(personas: Personas):  # type: ignore[no-untyped-def]
    """client_as("viewer") -> a test client signed in as that persona ("anonymous": nobody)."""

    def make(persona: str) -> Client:
        client = Client()
        if persona != "anonymous":
            client.force_login(getattr(personas, persona))
        return client

    return make


@pytest.fixture
def data_dir(tmp_path, settings):  # type: ignore[no-untyped-def]
    """A fresh data folder and warehouse for one test (tables are named by database ids,
    which the test database reuses, so warehouses must not be shared between tests)."""
    from civicloop.warehouse import Warehouse

    folder = tmp_path / "data"
    folder.mkdir()
    settings.DATA_DIR = folder
    settings.WAREHOUSE_PATH = folder / "warehouse.duckdb"
    yield folder
    Warehouse.open(folder / "warehouse.duckdb").close()


# --- real-browser tests (marked `browser`) -------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from civicloop.tests.browser import CHROMIUM, CHROMIUM_ARGS, require_browser

    require_browser()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; Django would otherwise refuse
    # the ORM calls the test makes between browser steps.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()


@pytest.fixture(scope="module")
def axe() -> str:
    from civicloop.tests.browser import axe_script

    return axe_script()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
