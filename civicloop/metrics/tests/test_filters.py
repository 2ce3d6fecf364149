"""The metric filter language: parsing, canonical text, checks, messages and execution."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import ibis
import pytest

from civicloop.datasets.engine.schema import FieldType
from civicloop.metrics.filters import (
    And,
    Between,
    Call,
    Column,
    Compare,
    FilterError,
    InList,
    IsNull,
    Literal,
    Not,
    Or,
    check_filter,
    columns_used,
    compile_filter,
    format_filter,
    parse_filter,
)

COLUMNS = {
    "request_id": FieldType.INTEGER,
    "request_type": FieldType.STRING,
    "district": FieldType.STRING,
    "borough": FieldType.STRING,
    "status": FieldType.STRING,
    "score": FieldType.NUMBER,
    "urgent": FieldType.BOOLEAN,
    "opened_at": FieldType.DATETIME,
    "closed_at": FieldType.DATETIME,
    "due": FieldType.DATE,
    "period": FieldType.YEARMONTH,
    "fiscal_year": FieldType.YEAR,
}


def error(text: str, columns: dict[str, FieldType] | None = None) -> FilterError:
    """The FilterError that parsing (and, given columns, checking) `text` raises."""
    with pytest.raises(FilterError) as caught:
        node = parse_filter(text)
        if columns is not None:
            check_filter(node, columns)
    return caught.value


# --- parsing and canonical text -------------------------------------------------------------


def test_parse_builds_equality_comparable_nodes() -> None:
    node = parse_filter(
        "request_type = 'Illegal dumping' AND district IN ('District 3', 'District 5')"
    )
    assert node == And(
        (
            Compare("=", Column("request_type"), Literal("Illegal dumping")),
            InList(Column("district"), (Literal("District 3"), Literal("District 5"))),
        )
    )


def test_nodes_remember_positions_but_compare_without_them() -> None:
    node = parse_filter("  status = 'open'")
    assert isinstance(node, Compare)
    assert node.position == 9
    assert node.left.position == 2
    assert node == Compare("=", Column("status"), Literal("open"))


@pytest.mark.parametrize(
    "text",
    [
        "request_type = 'Illegal dumping' AND district IN ('District 3', 'District 5')",
        "NOT status = 'open' OR closed_at IS NULL",
        "opened_at BETWEEN DATE '2024-01-01' AND DATE '2024-12-31'",
        "days_between(opened_at, closed_at) <= 2",
        "urgent = TRUE AND borough <> 'BRONX'",
        "district NOT IN ('District 1')",
        "score NOT BETWEEN -1.5 AND 2",
        "closed_at IS NOT NULL",
        "request_type = 'O''Brien''s'",
        "opened_at >= TIMESTAMP '2024-01-01 08:30:00'",
        "lower(status) = 'open' AND year(due) = 2024 AND month(opened_at) > 6",
        "(status = 'open' OR urgent) AND NOT (score < 1 OR score > 5)",
        "NOT NOT urgent",
        "TRUE",
        "score = 0.0000001",
        "\"date\" = DATE '2024-02-29'",
        "closed_at > opened_at",
    ],
)
def test_canonical_text_round_trips(text: str) -> None:
    node = parse_filter(text)
    assert format_filter(node) == text
    assert parse_filter(format_filter(node)) == node


def test_format_is_canonical() -> None:
    node = parse_filter(
        "not   \"BORO\" != 'x' or Urgent and  DISTRICT in ('a','b') and closed_at is null"
    )
    assert (
        format_filter(node)
        == "NOT boro <> 'x' OR urgent AND district IN ('a', 'b') AND closed_at IS NULL"
    )


def test_hand_built_nesting_round_trips_with_parentheses() -> None:
    a, b, c = Column("a"), Column("b"), Column("c")
    for node in (
        And((And((a, b)), c)),
        Or((a, Or((b, c)))),
        And((Or((a, b)), c)),
        Not(And((a, b))),
        Or((And((a, b)), Not(c))),
    ):
        assert parse_filter(format_filter(node)) == node


def test_identifiers_are_normalised_like_warehouse_columns() -> None:
    expected = Compare("=", Column("boro"), Literal("BRONX"))
    for text in ("BORO = 'BRONX'", "boro = 'BRONX'", "\"BORO\" = 'BRONX'"):
        assert parse_filter(text) == expected
    assert parse_filter('"Closed At (UTC)" IS NULL') == IsNull(Column("closed_at_utc"))


def test_keywords_and_functions_are_case_insensitive() -> None:
    assert parse_filter("x iS nOt NuLl aNd Days_Between(a, b) > 1") == And(
        (
            IsNull(Column("x"), negated=True),
            Compare(">", Call("days_between", (Column("a"), Column("b"))), Literal(1)),
        )
    )


def test_literal_values_and_kinds() -> None:
    def right(text: str) -> Literal:
        node = parse_filter(f"x = {text}")
        assert isinstance(node, Compare) and isinstance(node.right, Literal)
        return node.right

    assert right("'it''s'") == Literal("it's", "string")
    assert right("-42") == Literal(-42, "number")
    assert right("3.50").value == Decimal("3.50")
    assert right("false") == Literal(False, "boolean")
    assert right("DATE '2024-02-29'") == Literal(dt.date(2024, 2, 29), "date")
    assert right("TIMESTAMP '2024-01-01 08:30'").value == dt.datetime(2024, 1, 1, 8, 30)
    assert Literal(True) != Literal(1)  # TRUE and 1 are different values in filters


def test_precedence_not_over_and_over_or() -> None:
    a, b, c = (Compare("=", Column(n), Literal(1)) for n in "abc")
    assert parse_filter("a = 1 OR b = 1 AND NOT c = 1") == Or((a, And((b, Not(c)))))
    assert parse_filter("NOT a = 1 AND b = 1") == And((Not(a), b))
    assert parse_filter("(a = 1 OR b = 1) AND c = 1") == And((Or((a, b)), c))
    assert parse_filter("a = 1 AND b = 1 AND c = 1") == And((a, b, c))


def test_between_bounds_do_not_swallow_and() -> None:
    assert parse_filter("score BETWEEN 1 AND 2 AND urgent") == And(
        (Between(Column("score"), Literal(1), Literal(2)), Column("urgent"))
    )


def test_columns_used() -> None:
    node = parse_filter(
        "days_between(opened_at, closed_at) <= 2 AND (district IN ('a') OR NOT \"Status\" IS NULL)"
    )
    assert columns_used(node) == {"opened_at", "closed_at", "district", "status"}
    assert columns_used(parse_filter("TRUE")) == set()


# --- syntax errors --------------------------------------------------------------------------


def test_unterminated_string() -> None:
    problem = error("district = 'District 3")
    assert problem.position == 11
    assert "Unterminated text value starting at character 12" in str(problem)
    assert "close it with '" in str(problem)


def test_unexpected_end_says_what_was_expected() -> None:
    problem = error("district =")
    assert "ends too early at character 11" in str(problem)
    assert "expected a column, a value or a function call" in str(problem)


def test_unexpected_token_after_a_complete_condition() -> None:
    problem = error("district = 'x' 'y'")
    assert (
        str(problem) == "Unexpected 'y' at character 16: expected AND, OR or the end of the filter."
    )
    assert problem.position == 15


def test_missing_comparison_after_a_value() -> None:
    problem = error("district 'x'")
    assert "Unexpected 'x' at character 10" in str(problem)
    assert "expected a comparison (=, <>, <, <=, >, >=), IN, BETWEEN or IS NULL" in str(problem)


def test_unclosed_parenthesis() -> None:
    assert "expected ')' to close the '(' at character 1" in str(error("(status = 'open'"))


def test_empty_in_list() -> None:
    problem = error("district IN ()")
    assert "Empty IN list at character 10" in str(problem)
    assert "district IN ('District 3', 'District 5')" in str(problem)


def test_in_list_takes_values_not_columns() -> None:
    problem = error("district IN (borough)")
    assert "Unexpected 'borough' at character 14" in str(problem)
    assert "IN takes values, not columns" in str(problem)


@pytest.mark.parametrize(
    ("text", "shown"),
    [("DATE '2024-13-01'", "'2024-13-01'"), ("DATE '01/02/2024'", "'01/02/2024'")],
)
def test_bad_date_literal(text: str, shown: str) -> None:
    problem = error(f"due = {text}")
    assert f"Invalid date {shown} at character 12" in str(problem)
    assert "DATE 'YYYY-MM-DD'" in str(problem)


def test_bad_timestamp_literal() -> None:
    problem = error("opened_at > TIMESTAMP '2024-01-01 25:00'")
    assert "Invalid timestamp '2024-01-01 25:00' at character 23" in str(problem)
    assert "TIMESTAMP '2024-01-31 09:30'" in str(problem)


def test_unknown_function_lists_functions() -> None:
    problem = error("days_betwen(opened_at, closed_at) > 2")
    assert str(problem).startswith("Unknown function 'days_betwen' at character 1.")
    assert "days_between(start, end), lower(text), month(date), year(date)" in str(problem)
    assert "did you mean 'days_between'?" in str(problem)


def test_wrong_argument_count() -> None:
    problem = error("days_between(opened_at) > 2")
    assert "days_between() takes 2 arguments, not 1 at character 1" in str(problem)
    assert "e.g. days_between(opened_at, closed_at) <= 2" in str(problem)


def test_null_is_not_a_value() -> None:
    problem = error("closed_at = NULL")
    assert "NULL is not a value to compare with at character 13" in str(problem)
    assert "closed_at IS NULL" in str(problem)


def test_subquery_is_refused() -> None:
    problem = error("district IN (SELECT district FROM t)")
    assert str(problem).startswith(
        "Subqueries (SELECT ...) are not part of the filter language at character 14: "
        "list the values instead"
    )


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("district = 'x'; DROP TABLE t", 14, "';'"),
        ("district = 'x' OR 1=1 --", 22, "Comments ('--')"),
        ("district = 'x' /* hi */", 15, "Comments ('/*')"),
        ("score + 1 > 2", 6, "Unexpected character '+'"),
    ],
)
def test_text_outside_the_grammar_is_refused(text: str, position: int, words: str) -> None:
    problem = error(text)
    assert problem.position == position
    assert words in str(problem)
    assert f"at character {position + 1}" in str(problem)


def test_length_and_depth_limits() -> None:
    too_long = error("status = '" + "x" * 2000 + "'")
    assert "limit is 2,000" in str(too_long) and too_long.position is None
    deep = error("(" * 51 + "urgent" + ")" * 51)
    assert "nests more than 50 levels deep at character 51" in str(deep)
    assert format_filter(parse_filter("NOT " * 50 + "urgent")) == "NOT " * 50 + "urgent"
    assert "nests more than 50 levels" in str(error("NOT " * 51 + "urgent"))


def test_empty_filter() -> None:
    assert "The filter is empty" in str(error("   "))


@pytest.mark.parametrize(
    "text",
    [
        "",
        ")",
        "(",
        "AND",
        "x IN",
        "x IN (",
        "x IN ('a',",
        "x BETWEEN 1",
        "x IS",
        "x NOT x",
        "DATE",
        "x = DATE 3",
        "f(",
        "lower(",
        "lower(x",
        '"',
        '"" = 1',
        "x = 'a' AND",
        "x = = 1",
        "1.",
        "é = 1",
        "x IN (1, 2) )",
        "NOT",
        "x = TRUE ORDER BY x",
    ],
)
def test_garbage_gives_a_filter_error_with_a_place(text: str) -> None:
    problem = error(text)
    assert problem.position is not None
    assert "at character" in str(problem) or "empty" in str(problem)
    assert "Traceback" not in str(problem) and "Error" not in str(problem)


# --- name and type checks -------------------------------------------------------------------


def test_every_documented_example_checks() -> None:
    columns = {**COLUMNS, "statistical_murder_flag": FieldType.BOOLEAN, "boro": FieldType.STRING}
    for text in (
        "request_type = 'Illegal dumping' AND district IN ('District 3', 'District 5')",
        "NOT (status = 'open') OR closed_at IS NULL",
        "opened_at BETWEEN DATE '2024-01-01' AND DATE '2024-12-31'",
        "days_between(opened_at, closed_at) <= 2",
        "statistical_murder_flag = TRUE AND boro <> 'BRONX'",
        "due < TIMESTAMP '2024-01-01 12:00' AND period >= DATE '2024-01-01'",
        "fiscal_year = 2024 AND score > request_id AND days_between(due, opened_at) > 0.5",
        "urgent AND NOT FALSE",
    ):
        check_filter(parse_filter(text), columns)


def test_unknown_column_suggests_the_closest() -> None:
    problem = error(
        "distrct = 'District 3'", {"borough": FieldType.STRING, "district": FieldType.STRING}
    )
    assert str(problem) == (
        "Unknown column 'distrct' at character 1. Columns of this dataset: borough, district "
        "(did you mean 'district'?)."
    )
    assert problem.position == 0


def test_text_column_compared_with_a_number() -> None:
    problem = error("district = 3", COLUMNS)
    assert str(problem) == (
        "Cannot compare district (text) with 3 (a number) at character 10: "
        "quote the value, e.g. '3'."
    )


def test_date_column_compared_with_bare_text() -> None:
    problem = error("opened_at >= '2024-01-01'", COLUMNS)
    assert "Cannot compare opened_at (a date and time) with '2024-01-01' (text)" in str(problem)
    assert "write it as DATE '2024-01-01'" in str(problem)
    assert "DATE '2024-01-01'" in str(error("due = 'soon'", COLUMNS))
    assert "for the year use year(due), e.g. year(due) = 2024" in str(error("due = 2024", COLUMNS))


def test_other_type_mismatches_suggest_a_fix() -> None:
    assert "remove the quotes, e.g. 5" in str(error("score > '5'", COLUMNS))
    assert "write TRUE without quotes" in str(error("urgent = 'true'", COLUMNS))
    problem = error("district IN ('a', 2)", COLUMNS)
    assert "Cannot compare district (text) with 2 (a number) at character 19" in str(problem)
    assert "both sides must be of the same kind" in str(error("district = score", COLUMNS))
    assert "at character 15" in str(error("score BETWEEN 'a' AND 2", COLUMNS))


def test_function_argument_types() -> None:
    problem = error("days_between(status, closed_at) > 1", COLUMNS)
    assert str(problem) == (
        "days_between() needs a date or a date and time as argument 1, but status is text at "
        "character 14: e.g. days_between(opened_at, closed_at) <= 2."
    )
    assert "lower() needs text as argument 1" in str(error("lower(score) = 'a'", COLUMNS))
    assert "Cannot compare year(due) (a number)" in str(error("year(due) = 'x'", COLUMNS))


def test_a_condition_needs_a_true_false_value() -> None:
    problem = error("district AND urgent", COLUMNS)
    assert "district (text) at character 1 is not a true/false value" in str(problem)
    assert "e.g. district = 'some text'" in str(problem)
    assert "use = or <>" in str(error("urgent > FALSE", COLUMNS))


# --- execution against DuckDB ---------------------------------------------------------------

T = dt.datetime
D = dt.date
ROWS = {
    "request_id": [1, 2, 3, 4, 5, 6],
    "request_type": ["Illegal dumping", "Graffiti", "Illegal dumping", "Pothole", None, "x'; --"],
    "district": ["District 3", "District 5", "District 3", "District 1", "District 5", None],
    "status": ["closed", "closed", "open", "closed", "open", None],
    "score": [0.5, 1.5, None, 2.25, -1.0, 3.0],
    "urgent": [True, False, None, True, False, True],
    "opened_at": [
        T(2024, 1, 1, 8),
        T(2024, 3, 15, 12),
        T(2024, 12, 31, 18),
        T(2023, 12, 31, 23),
        T(2024, 6, 1),
        T(2025, 1, 2, 9),
    ],
    "closed_at": [
        T(2024, 1, 2, 20),
        T(2024, 3, 15, 18),
        None,
        T(2024, 1, 10, 23),
        None,
        T(2025, 1, 3, 9),
    ],
    "due": [D(2024, 1, 5), D(2024, 3, 10), None, D(2024, 1, 1), D(2024, 6, 1), D(2025, 1, 1)],
}
SCHEMA = {
    "request_id": "int64",
    "request_type": "string",
    "district": "string",
    "status": "string",
    "score": "float64",
    "urgent": "boolean",
    "opened_at": "timestamp",
    "closed_at": "timestamp",
    "due": "date",
}


@pytest.fixture(scope="module")
def run():
    con = ibis.duckdb.connect()
    table = ibis.memtable(ROWS, schema=SCHEMA)

    def selected(text: str) -> list[int]:
        expr = table.filter(compile_filter(parse_filter(text), table)).order_by("request_id")
        return con.to_pyarrow(expr.select("request_id")).column("request_id").to_pylist()

    return selected


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("request_type = 'Illegal dumping' AND district IN ('District 3', 'District 5')", [1, 3]),
        ("district NOT IN ('District 3', 'District 5')", [4]),
        ("NOT (status = 'open') OR closed_at IS NULL", [1, 2, 3, 4, 5]),
        ("opened_at BETWEEN DATE '2024-01-01' AND DATE '2024-12-31'", [1, 2, 5]),
        ("opened_at >= DATE '2024-01-01' AND opened_at < DATE '2025-01-01'", [1, 2, 3, 5]),
        ("days_between(opened_at, closed_at) <= 2", [1, 2, 6]),
        ("days_between(due, closed_at) > 5", [2, 4]),
        ("urgent", [1, 4, 6]),
        ("urgent = FALSE", [2, 5]),
        ("NOT urgent", [2, 5]),
        ("score > 1 AND score <= 2.25", [2, 4]),
        ("score NOT BETWEEN 0 AND 2", [4, 5, 6]),
        ("request_id IN (2, 4) OR score < 0", [2, 4, 5]),
        ("lower(district) = 'district 3'", [1, 3]),
        ("year(opened_at) = 2024 AND month(due) = 3", [2]),
        ("due = DATE '2024-06-01'", [5]),
        ("due < TIMESTAMP '2024-01-05 12:00'", [1, 4]),
        ("due > opened_at", [1, 4]),
        ("opened_at IN (TIMESTAMP '2024-06-01 00:00', DATE '2024-03-15')", [5]),
        ("TRUE", [1, 2, 3, 4, 5, 6]),
        ("FALSE OR request_id = 1", [1]),
    ],
)
def test_compiled_filters_select_the_right_rows(run, text: str, ids: list[int]) -> None:
    assert run(text) == ids


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("status <> 'open'", [1, 2, 4]),  # row 6's NULL status is neither equal nor unequal
        ("NOT status = 'open'", [1, 2, 4]),
        ("status IS NULL", [6]),
        ("status NOT IN ('open')", [1, 2, 4]),
        ("urgent = TRUE OR urgent = FALSE", [1, 2, 4, 5, 6]),
        ("NOT (score > 1)", [1, 5]),
        ("days_between(opened_at, closed_at) >= 0", [1, 2, 4, 6]),
        ("closed_at IS NULL OR days_between(opened_at, closed_at) > 5", [3, 4, 5]),
    ],
)
def test_nulls_follow_sql(run, text: str, ids: list[int]) -> None:
    assert run(text) == ids


def test_days_between_is_fractional() -> None:
    table = ibis.memtable(ROWS, schema=SCHEMA)
    node = parse_filter("days_between(opened_at, closed_at) = 0.25")
    selected = table.filter(compile_filter(node, table)).select("request_id")
    assert ibis.duckdb.connect().to_pyarrow(selected).column(0).to_pylist() == [2]


def test_injection_text_is_data_and_never_runs(run) -> None:
    assert run("request_type = 'x''; --'") == [6]
    assert run("request_type = '''; DROP TABLE t; --'") == []
    assert run("district = 'x'' OR 1=1'") == []
    assert error("district = 'x'; DROP TABLE t").position == 14
    assert "Comments" in str(error("district = 'x' OR 1=1 --"))


def test_compile_checks_against_the_table() -> None:
    table = ibis.memtable(ROWS, schema=SCHEMA)
    with pytest.raises(FilterError, match=r"Unknown column 'boro' at character 1\..*borough"):
        compile_filter(parse_filter("boro = 'x'"), table.rename(borough="district"))
    with pytest.raises(FilterError, match="Cannot compare district"):
        compile_filter(parse_filter("district = 3"), table)
