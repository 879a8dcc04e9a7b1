"""Hostile project files, built fresh for each test from a real project file.

Each builder takes a valid project file (an annotator's) and returns a file someone could
email that must be refused: what it does is in its docstring.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from dpo_tui.core.ids import candidate_id


def _copy(good: Path, out: Path) -> Path:
    shutil.copyfile(good, out)
    return out


def _edit(good: Path, out: Path, *sql: str) -> Path:
    _copy(good, out)
    conn = sqlite3.connect(out)
    for statement in sql:
        conn.execute(statement)
    conn.commit()
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    return out


def truncated(good: Path, out: Path) -> Path:
    """The first half of a real project file."""
    data = good.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


def random_bytes(good: Path, out: Path) -> Path:
    """Noise with a .dpo name."""
    out.write_bytes(os.urandom(64 * 1024))
    return out


def not_sqlite(good: Path, out: Path) -> Path:
    """A text file with a .dpo name."""
    out.write_text("prompt,score\nhello,5\n")
    return out


def sqlite_header_noise(good: Path, out: Path) -> Path:
    """The SQLite header followed by garbage."""
    out.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    return out


def trigger(good: Path, out: Path) -> Path:
    """A trigger that would rewrite scores when anything touches them."""
    return _edit(
        good,
        out,
        "create trigger evil after insert on scores begin update scores set criteria = '{}'; end",
    )


def view_calling_a_function(good: Path, out: Path) -> Path:
    """A view that calls a function (here load_extension) when read."""
    return _edit(good, out, "create view evil as select load_extension('/tmp/x.so') as x")


def extra_table(good: Path, out: Path) -> Path:
    """An extra table smuggled in."""
    return _edit(good, out, "create table payload (data blob)")


def newer_schema(good: Path, out: Path) -> Path:
    """A file from a future dpo-tui: an unknown migration and schema version 99."""
    return _edit(
        good,
        out,
        "insert into _sqlite_migrations (migration_set, name, applied_at) "
        "values ('dpo_tui', 'm099_future', '2030-01-01')",
        "update meta set value = '99' where key = 'schema_version'",
    )


def other_rubric(good: Path, out: Path) -> Path:
    """Made for another rubric (its hash differs, in its meta and its rubric history)."""
    return _edit(
        good,
        out,
        "update meta set value = 'f00d' || substr(value, 5) where key = 'rubric_sha256'",
        "update rubric_versions set sha256 = 'f00d' || substr(sha256, 5)",
    )


def rubric_history_disagrees(good: Path, out: Path) -> Path:
    """Its meta names one rubric, its rubric history ends with another."""
    return _edit(
        good, out, "update meta set value = 'f00d' || substr(value, 5) where key = 'rubric_sha256'"
    )


def _new_candidate(good: Path, out: Path, **fields: object) -> Path:
    """A file with one more candidate (one the target does not hold, so merge would add
    it), its id the hash of its text, and `fields` set as given."""
    _copy(good, out)
    conn = sqlite3.connect(out)
    pid = conn.execute("select prompt_id from candidates limit 1").fetchone()[0]
    text = "A response the team has never seen."
    row = {"id": candidate_id(pid, text), "prompt_id": pid, "text": text, "origin": "x"}
    row |= {"created_at": "2026-01-01T00:00:00+00:00", **fields}
    conn.execute(
        f"insert into candidates ({', '.join(row)}) values ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    conn.commit()
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    return out


def candidate_origin_too_long(good: Path, out: Path) -> Path:
    """A candidate whose origin is 100,000 characters."""
    return _new_candidate(good, out, origin="x" * 100_000)


def candidate_model_with_nul(good: Path, out: Path) -> Path:
    """A candidate whose model name holds a NUL character."""
    return _new_candidate(good, out, model="gemma\x00evil")


def candidate_negative_tokens(good: Path, out: Path) -> Path:
    """A candidate with -5 tokens."""
    return _new_candidate(good, out, token_count=-5)


def candidate_negative_seconds(good: Path, out: Path) -> Path:
    """A candidate generated in -1 seconds."""
    return _new_candidate(good, out, gen_seconds=-1.0)


def forged_prompt_id(good: Path, out: Path) -> Path:
    """A prompt whose id is not the hash of its text (a forged or edited row)."""
    return _edit(
        good,
        out,
        "update prompts set text = text || ' (edited)' "
        "where rowid = (select min(rowid) from prompts)",
    )


def _edit_score(good: Path, out: Path, change: str, which: str = "min") -> Path:
    """`change` the first (`min`) or the last (`max`) score card."""
    return _edit(
        good, out, f"update scores set {change} where rowid = (select {which}(rowid) from scores)"
    )


def score_outside_scale(good: Path, out: Path) -> Path:
    """A score of 99 on a 1-5 criterion."""
    return _edit_score(good, out, "criteria = json_set(criteria, '$.clarity', 99)")


def unknown_criterion(good: Path, out: Path) -> Path:
    """A score on a criterion the rubric does not have."""
    return _edit_score(good, out, "criteria = json_set(criteria, '$.charm', 3)")


def score_card_not_json(good: Path, out: Path) -> Path:
    """A score card that is not JSON."""
    return _edit_score(good, out, "criteria = 'clarity: 5'")


def score_card_nested_deep(good: Path, out: Path) -> Path:
    """A score card of 100,000 nested JSON arrays (Python's parser gives up on recursion)."""
    return _edit_score(good, out, "criteria = printf('%.*c', 100000, '[')")


def tags_nested_deep(good: Path, out: Path) -> Path:
    """A prompt's tags as 100,000 nested JSON arrays."""
    return _edit(
        good,
        out,
        "update prompts set tags = printf('%.*c', 100000, '[') "
        "where rowid = (select min(rowid) from prompts)",
    )


def score_card_empty(good: Path, out: Path) -> Path:
    """A score card with no scores in it."""
    return _edit_score(good, out, "criteria = '{}'")


def score_of_unknown_candidate(good: Path, out: Path) -> Path:
    """The last score is of a candidate neither file holds."""
    return _edit_score(good, out, "candidate_id = 'ffffffffffffffff'", "max")


def score_with_blank_annotator(good: Path, out: Path) -> Path:
    """The last score's annotator is blank."""
    return _edit_score(good, out, "annotator = '  '", "max")


def score_not_an_integer(good: Path, out: Path) -> Path:
    """The last card scores clarity 2.5."""
    return _edit_score(good, out, "criteria = json_set(criteria, '$.clarity', 2.5)", "max")


def score_time_not_text(good: Path, out: Path) -> Path:
    """The last score's updated_at is a blob."""
    return _edit_score(good, out, "updated_at = x'00'", "max")


def new_candidate_params_nested(good: Path, out: Path) -> Path:
    """A new candidate (its id the true hash of its text) whose parameters nest 100 deep."""
    _copy(good, out)
    conn = sqlite3.connect(out)
    pid = conn.execute("select id from prompts order by rowid limit 1").fetchone()[0]
    text = "A candidate the target does not hold."
    params = '{"a":' * 100 + "1" + "}" * 100
    conn.execute(
        "insert into candidates (id, prompt_id, text, origin, params, created_at) "
        "values (?, ?, ?, 'imported:x', ?, '2026-01-01T00:00:00')",
        [candidate_id(pid, text), pid, text, params],
    )
    conn.commit()
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    return out


def judgement_time_infinite(good: Path, out: Path) -> Path:
    """A judgement that took an infinite number of seconds."""
    return _edit(good, out, "update judgements set seconds_spent = 9e999")


def annotator_with_escape(good: Path, out: Path) -> Path:
    """A score card whose annotator's name holds a terminal escape sequence."""
    return _edit_score(good, out, "annotator = 'eve' || char(27) || '[2J'", "max")


def score_time_not_iso(good: Path, out: Path) -> Path:
    """The last card's time is 'zzzz', which would win every later newest-wins comparison."""
    return _edit_score(good, out, "updated_at = 'zzzz'", "max")


def score_time_in_the_future(good: Path, out: Path) -> Path:
    """The last card was edited in the year 9999."""
    return _edit_score(good, out, "updated_at = '9999-01-01T00:00:00+00:00'", "max")


def judgement_time_huge(good: Path, out: Path) -> Path:
    """A judgement that took 1.7e308 seconds (finite, but no duration)."""
    return _edit(good, out, "update judgements set seconds_spent = 1.7e308")


HOSTILE: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "score_time_not_iso": (score_time_not_iso, "updated_at 'zzzz' is not an ISO 8601 time"),
    "score_time_in_the_future": (score_time_in_the_future, "is in the future"),
    "judgement_time_huge": (judgement_time_huge, "is not a duration"),
    "new_candidate_params_nested": (
        new_candidate_params_nested,
        "candidates row 8: nested deeper than 32 levels",
    ),
    "judgement_time_infinite": (judgement_time_infinite, "seconds_spent inf is not a duration"),
    "annotator_with_escape": (annotator_with_escape, "holds a control character"),
    "truncated": (truncated, "corrupt or truncated"),
    "random_bytes": (random_bytes, "not an SQLite database"),
    "not_sqlite": (not_sqlite, "not an SQLite database"),
    "sqlite_header_noise": (sqlite_header_noise, "corrupt or truncated"),
    "trigger": (trigger, "unexpected trigger 'evil'"),
    "view_calling_a_function": (view_calling_a_function, "unexpected view 'evil'"),
    "extra_table": (extra_table, "unexpected table 'payload'"),
    "newer_schema": (newer_schema, "written by a newer dpo-tui"),
    "other_rubric": (other_rubric, "made for another rubric"),
    "rubric_history_disagrees": (
        rubric_history_disagrees,
        "its rubric history does not end with its current rubric",
    ),
    "forged_prompt_id": (forged_prompt_id, "is not the hash of its text"),
    "candidate_origin_too_long": (
        candidate_origin_too_long,
        "origin is 100,000 characters, over the limit of 500",
    ),
    "candidate_model_with_nul": (candidate_model_with_nul, "model contains a NUL character"),
    "candidate_negative_tokens": (candidate_negative_tokens, "token_count -5 is not a number"),
    "candidate_negative_seconds": (
        candidate_negative_seconds,
        "gen_seconds -1.0 is not a duration",
    ),
    "score_outside_scale": (score_outside_scale, "clarity = 99 is outside the scale 1..5"),
    "unknown_criterion": (unknown_criterion, "the rubric has no criterion 'charm'"),
    "score_card_not_json": (score_card_not_json, "'clarity: 5' is not a JSON object"),
    "score_card_empty": (score_card_empty, "'{}' is not a JSON object of scores"),
    "score_card_nested_deep": (
        score_card_nested_deep,
        "criteria '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[... "
        "(100,002 characters) is not a JSON object",
    ),
    "tags_nested_deep": (tags_nested_deep, "prompts row 1: nested deeper than 32 levels"),
    "score_of_unknown_candidate": (
        score_of_unknown_candidate,
        "its candidate 'ffffffffffffffff' is in neither file",
    ),
    "score_with_blank_annotator": (score_with_blank_annotator, "the annotator name is empty"),
    "score_not_an_integer": (score_not_an_integer, "clarity = 2.5 is outside the scale"),
    "score_time_not_text": (score_time_not_text, "updated_at must be a timestamp"),
}
