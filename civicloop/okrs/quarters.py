"""OKR years and quarters.

An OKR year starts in the month CIVICLOOP_OKR_YEAR_START names (January by default). A year
is called by the calendar year it starts in; when it does not start in January its label shows
both years ("2026/27"). Quarters are numbered from the start of the OKR year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings

_CODE = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)


def start_month() -> int:
    return int(getattr(settings, "OKR_YEAR_START", 1))


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def year_label(year: int) -> str:
    if start_month() == 1:
        return str(year)
    return f"{year}/{(year + 1) % 100:02d}"


def year_start(year: int) -> date:
    return date(year, start_month(), 1)


def year_end(year: int) -> date:
    y, m = _add_months(year, start_month(), 12)
    return date(y, m, 1) - timedelta(days=1)


def year_of(day: date) -> int:
    return day.year if day.month >= start_month() else day.year - 1


@dataclass(frozen=True, order=True)
class Quarter:
    year: int  # the OKR year
    number: int  # 1-4

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 4:
            raise ValueError(f"a quarter is numbered 1 to 4, not {self.number}")

    @classmethod
    def parse(cls, code: str) -> Quarter:
        """'2026-Q3' (or 2026Q3): raises ValueError with a sentence saying what to write."""
        match = _CODE.match(code.strip())
        if not match:
            raise ValueError(
                f"“{code}” is not a quarter: write it as YEAR-QN, for example 2026-Q3."
            )
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, day: date) -> Quarter:
        year = year_of(day)
        months = (day.year * 12 + day.month) - (year * 12 + start_month())
        return cls(year, months // 3 + 1)

    @property
    def code(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def label(self) -> str:
        return f"{year_label(self.year)} Q{self.number}"

    @property
    def start(self) -> date:
        y, m = _add_months(self.year, start_month(), 3 * (self.number - 1))
        return date(y, m, 1)

    @property
    def end(self) -> date:
        y, m = _add_months(self.year, start_month(), 3 * self.number)
        return date(y, m, 1) - timedelta(days=1)

    def next(self) -> Quarter:
        return (
            Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)
        )

    def previous(self) -> Quarter:
        return (
            Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
        )

    def __str__(self) -> str:
        return self.label


def quarters_of(year: int) -> list[Quarter]:
    return [Quarter(year, n) for n in range(1, 5)]
