"""collector_paused: the garbage collector is off inside, restored after, even on errors;
insert_rows: every row written, many per statement, within the parameter limit."""

from __future__ import annotations

import gc
import sqlite3

import pytest

from dpo_tui.store.bulk import MAX_VARIABLES, collector_paused, insert_rows


def test_paused_inside_and_restored_after_even_on_error():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: the outer pause still holds after the inner one
            pass
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()


def test_an_already_disabled_collector_stays_disabled():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_works_as_a_decorator():
    @collector_paused()
    def state() -> bool:
        return gc.isenabled()

    assert state() is False
    assert state() is False  # a fresh pause on each call
    assert gc.isenabled()


@pytest.mark.parametrize("count", [0, 1, 332, 333, 334, 1000])
def test_insert_rows_writes_every_row_in_order(count: int):
    conn = sqlite3.connect(":memory:")
    conn.execute("create table t (a integer primary key, b text, c real)")
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    rows = [(n, f"row {n}", n / 2) for n in range(count)]
    insert_rows(conn, "insert into t (a, b, c)", rows)
    assert conn.execute("select a, b, c from t order by rowid").fetchall() == rows
    per_run = [sql.count("), (") + 1 for sql in statements if sql.startswith("insert")]
    assert sum(per_run) == count
    assert all(rows * 3 <= MAX_VARIABLES for rows in per_run)
    assert len(per_run) == -(-count // (MAX_VARIABLES // 3))  # 333 rows a statement


def test_insert_rows_applies_the_conflict_clause_row_after_row():
    conn = sqlite3.connect(":memory:")
    conn.execute("create table t (k text primary key, v integer)")
    rows = [("x", 1), ("y", 5), ("x", 3), ("x", 2)]
    insert_rows(
        conn,
        "insert into t (k, v)",
        rows,
        "on conflict (k) do update set v = excluded.v where excluded.v > t.v",
    )
    assert dict(conn.execute("select k, v from t")) == {"x": 3, "y": 5}
