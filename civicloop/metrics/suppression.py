"""Small-number suppression for people who see a metric only because it is public.

Counts about people below a metric's threshold (commonly 5 or 10) can identify them. A hidden
cell must also stay hidden when the total and the other cells are shown: if only one cell of a
breakdown is hidden in a period, total minus the rest would give it back, so the next smallest
cell of that period is hidden too (secondary suppression). A total below the threshold is hidden
as well, and then every cell of that period with it.

Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Values = list[float | None]


def _small(value: float | None, threshold: int) -> bool:
    return value is not None and 0 < value < threshold


def suppress(
    total: Sequence[float | None],
    cells: Mapping[str, Sequence[float | None]],
    threshold: int,
) -> tuple[Values, dict[str, Values]]:
    """The total and the cells of one breakdown (counts per period), with small counts hidden.

    `None` means hidden (or never known); zeros are shown: a zero identifies nobody.
    """
    shown_total: Values = list(total)
    shown = {name: list(values) for name, values in cells.items()}
    for index, value in enumerate(total):
        if _small(value, threshold):
            shown_total[index] = None
            for values in shown.values():
                values[index] = None
            continue
        hidden = [name for name, values in shown.items() if _small(values[index], threshold)]
        for name in hidden:
            shown[name][index] = None
        if len(hidden) == 1:
            candidates = sorted(
                (values[index], name)
                for name, values in shown.items()
                if values[index] is not None and values[index] != 0
            )
            if candidates:
                shown[candidates[0][1]][index] = None
    return shown_total, shown
