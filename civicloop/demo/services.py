"""Loading the demo city: people and teams into the app database, data into the warehouse."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from civicloop.demo import city
from civicloop.warehouse import Warehouse

ProgressCallback = Callable[[str, int, int], None]  # (table, tables done, tables total)


@dataclass(frozen=True)
class DemoResult:
    city: city.CityCounts
    table_rows: dict[str, int]
    password: str


def load_demo(
    data_dir: Path,
    warehouse: Warehouse,
    seed: int = 2026,
    scale: float = 1.0,
    as_of: date | None = None,
    progress: ProgressCallback | None = None,
) -> DemoResult:
    """Create (or refresh in place) the demo city. Safe to run again: nothing is duplicated."""
    from civicloop.demo.citydata import generate_city_data

    password = city.demo_password(data_dir)
    counts = city.create_city(password)
    tables = generate_city_data(seed=seed, scale=scale, as_of=as_of)
    rows: dict[str, int] = {}
    for index, (name, table) in enumerate(tables.items()):
        if progress:
            progress(name, index, len(tables))
        # Each table is swapped in whole, so a re-run replaces rather than appends.
        rows[name] = warehouse.replace_table(name, table)
    if progress:
        progress("", len(tables), len(tables))
    return DemoResult(counts, rows, password)
