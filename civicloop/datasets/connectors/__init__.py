"""Connectors: fetch a city's data from where it is published into a local file.

Each connector writes one file (NDJSON or CSV) that the ingest pipeline then validates and
loads. The file appears at `dest` only when the fetch completed: it is written under a
temporary name in the same folder and renamed at the end, so a failure half-way leaves no
partial file behind (and an older file at `dest` untouched).

Failures raise `ConnectorError`, whose message says what happened, where (page, offset, rows
so far) and what to do, and never contains a token, key or password.

Pure Python: no Django import here. See docs/connectors.md.
"""

from ._common import ConnectorError, FetchResult, Progress
from .arcgis import fetch_arcgis
from .ckan import fetch_ckan
from .csv_url import fetch_csv_url
from .socrata import fetch_socrata
from .sql import fetch_sql

__all__ = [
    "ConnectorError",
    "FetchResult",
    "Progress",
    "fetch_arcgis",
    "fetch_ckan",
    "fetch_csv_url",
    "fetch_socrata",
    "fetch_sql",
]
