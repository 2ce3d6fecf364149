"""The numbers the methods fix, in one place (NHS Making Data Count, Anhøj, Laney)."""

from __future__ import annotations

#: The charts the engine draws, and the directions a metric can have.
CHARTS = ("xmr", "run", "p", "p_prime", "u", "u_prime", "c")
DIRECTIONS = ("increase", "decrease", "neutral")

#: Process limits sit this many average moving ranges from the mean (3 / d2, d2 = 1.128).
LIMIT = 2.66
#: Near-limit ("two of three") lines sit at two thirds of the way to the process limits.
NEAR_LIMIT = 2 * LIMIT / 3
#: Screening drops moving ranges at or above this many average moving ranges (D4 = 3.267).
SCREEN = 3.267
#: d2 for subgroups of two: a moving range's expected size is d2 x sigma.
D2 = 1.128
#: A shift is this many points in a row on the same side of the centre line.
SHIFT_POINTS = 7
#: A trend is this many points in a row, each strictly higher (or lower) than the one before.
TREND_POINTS = 7
#: Fewer points than this in a baseline and its limits are unreliable (warned, not refused).
MIN_RELIABLE_POINTS = 12
#: Comparisons (above a limit, on the mean, a tie in a trend) allow this relative slack, so a
#: value that equals a limit in exact arithmetic is not called beyond it because of rounding.
RELATIVE_TOLERANCE = 1e-9
