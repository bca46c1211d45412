import datetime as dt
from decimal import Decimal

from dmsval.checks.custom_sql import compare_rows, required_tables


def test_equal_results_in_other_order_and_types_match():
    source = [(1, Decimal("2.50"), "a"), (2, 3.0, None)]
    target = [(Decimal("2"), Decimal("3"), None), (Decimal("1.0"), Decimal("2.5"), "a")]
    assert compare_rows(source, target, 0) == ([], [])


def test_duplicates_are_counted():
    only_s, only_t = compare_rows([(1,), (1,)], [(1,)], 0)
    assert only_s == [(1,)] and only_t == []


def test_bool_and_integer_agree():
    assert compare_rows([(1, 0)], [(True, False)], 0) == ([], [])


def test_null_empty_string_and_text_null_are_distinct():
    only_s, only_t = compare_rows([(None,), ("",)], [("",), ("NULL",)], 0)
    assert only_s == [(None,)] and only_t == [("NULL",)]


def test_tolerance_pairs_close_numbers_only():
    assert compare_rows([(1, Decimal("10.001"))], [(1, Decimal("10.002"))], 0.01) == ([], [])
    only_s, only_t = compare_rows([(1, Decimal("10.5"))], [(1, Decimal("10.6"))], 0.01)
    assert len(only_s) == 1 and len(only_t) == 1
    only_s, only_t = compare_rows([(1, Decimal("10.001"))], [(1, Decimal("10.002"))], 0)
    assert len(only_s) == 1


def test_aware_timestamps_compare_in_utc():
    naive = dt.datetime(2024, 1, 1, 12, 0)
    aware = dt.datetime(2024, 1, 1, 13, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert compare_rows([(naive,)], [(aware,)], 0) == ([], [])


def test_requires_header():
    text = "-- dmsval: requires sakila.payment, Sakila.Rental\nselect 1"
    assert required_tables(text, "select 2") == {"sakila.payment", "sakila.rental"}
