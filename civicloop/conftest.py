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
