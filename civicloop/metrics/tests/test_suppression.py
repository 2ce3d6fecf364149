"""Small counts stay hidden, including from the arithmetic of totals and other cells."""

from __future__ import annotations

from civicloop.metrics.suppression import suppress


def test_small_cells_are_hidden_and_a_lone_one_takes_the_next_smallest_with_it() -> None:
    total, cells = suppress([30.0], {"North": [3.0], "South": [12.0], "East": [15.0]}, 5)
    assert total == [30.0]
    # North alone would be 30 - 12 - 15: South (the next smallest) is hidden as well.
    assert cells == {"North": [None], "South": [None], "East": [15.0]}


def test_two_small_cells_protect_each_other_and_zeros_are_shown() -> None:
    total, cells = suppress([20.0], {"A": [2.0], "B": [3.0], "C": [15.0], "D": [0.0]}, 5)
    assert cells == {"A": [None], "B": [None], "C": [15.0], "D": [0.0]}
    assert total == [20.0]


def test_a_small_total_hides_its_whole_period() -> None:
    total, cells = suppress([4.0, 40.0], {"A": [1.0, 20.0], "B": [3.0, 20.0]}, 5)
    assert total == [None, 40.0]
    assert cells == {"A": [None, 20.0], "B": [None, 20.0]}


def test_no_hidden_cell_can_be_recovered_from_what_is_shown() -> None:
    cells_in = {"A": [1.0, 6.0, 9.0], "B": [7.0, 2.0, 9.0], "C": [8.0, 9.0, 4.0]}
    totals_in = [sum(v[i] for v in cells_in.values()) for i in range(3)]
    total, cells = suppress(totals_in, cells_in, 5)
    for index in range(3):
        hidden = [name for name in cells if cells[name][index] is None]
        assert len(hidden) != 1, index  # one hidden cell = total minus the others
        assert total[index] == totals_in[index]
