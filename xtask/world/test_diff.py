"""The comparison of `cargo xtask diff` (diff.py): what counts as equal, and that differing rows are shown."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from diff import compare  # noqa: E402


def test_normalized_types_compare_equal():
    left = [{"ID": 1, "amount": 2.0, "price": "1.50", "at": "2024-01-01T10:00:00Z", "d": "2024-01-01"}]
    right = [{"id": 1.0, "AMOUNT": 2, "price": 1.5, "at": "2024-01-01 10:00:00.000000", "d": "2024-01-01"}]
    assert compare("model t", left, right, 10, set()) == []


def test_long_decimals_equal_floats_only_within_float_precision():
    # Sail divides decimal by bigint as a double; Spark (and the embedded engine) as a decimal(38,17).
    assert compare("t", [{"v": "16.37500000000000000"}], [{"v": 16.375}], 10, set()) == []
    assert compare("t", [{"v": "12345678901234567.5"}], [{"v": 12345678901234567.5}], 10, set()) != []


def test_rows_are_a_multiset_in_any_order():
    assert compare("t", [{"a": 1}, {"a": 2}], [{"a": 2}, {"a": 1}], 10, set()) == []
    lines = compare("t", [{"a": 1}, {"a": 1}], [{"a": 1}], 10, set())
    assert lines[0] == "t: 1 row(s) only on the left, 0 only on the right"
    assert lines[1] == "  < {'a': 1}"


def test_differing_rows_are_printed_per_side():
    lines = compare("model orders", [{"id": 1, "s": "x"}, {"id": 2, "s": "y"}], [{"id": 1, "s": "x"}, {"id": 2, "s": "z"}], 10, set())
    assert lines == [
        "model orders: 1 row(s) only on the left, 1 only on the right",
        "  < {'id': 2, 's': 'y'}",
        "  > {'id': 2, 's': 'z'}",
    ]


def test_snapshot_time_columns_can_be_left_out():
    left = [{"id": 1, "dbt_valid_from": "2024-01-01 00:00:00"}]
    right = [{"id": 1, "dbt_valid_from": "2025-06-01 00:00:00"}]
    assert compare("snapshot s", left, right, 10, {"dbt_valid_from"}) == []
    assert compare("snapshot s", left, right, 10, set()) != []
