"""Fixtures shared by every app's tests: the personas of a small city."""

from __future__ import annotations

import pytest
from django.test import Client

from civicloop.testing import Personas, make_personas


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
