"""Numbered schema migrations for project files (sqlite-utils `Migrations`)."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.db import Table
from sqlite_utils.migrations import Migrations

from dpo_tui.store.cards import card_json

MIGRATION_SET = "dpo_tui"


def _table(db: Database, name: str) -> Table:
    table = db[name]
    assert isinstance(table, Table)
    return table


def m001_initial(db: Database) -> None:
    """Meta, prompts, candidates, scores and judgements."""
    _table(db, "meta").create({"key": str, "value": str}, pk="key")
    _table(db, "prompts").create(
        {
            "id": str,
            "text": str,
            "messages": str,  # JSON list of {role, content}, NULL for a plain prompt
            "source": str,
            "tags": str,  # JSON list of strings
            "created_at": str,
        },
        pk="id",
        not_null={"text", "source", "tags", "created_at"},
    )
    _table(db, "candidates").create(
        {
            "id": str,
            "prompt_id": str,
            "text": str,
            "origin": str,  # model file hash, or "imported:<name>"
            "model": str,
            "preset": str,
            "params": str,  # JSON: temperature, top_p, min_p, seed, max_tokens ...
            "token_count": int,
            "gen_seconds": float,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("prompt_id", "prompts", "id")],
        not_null={"prompt_id", "text", "origin", "created_at"},
    )
    _table(db, "candidates").create_index(["prompt_id"])
    _table(db, "scores").create(
        {
            "candidate_id": str,
            "annotator": str,
            "criterion": str,
            "value": int,
            "updated_at": str,
        },
        pk=("candidate_id", "annotator", "criterion"),
        foreign_keys=[("candidate_id", "candidates", "id")],
        not_null={"value", "updated_at"},
    )
    _table(db, "judgements").create(
        {
            "prompt_id": str,
            "annotator": str,
            "diagnosis": str,
            "flags": str,  # JSON list: skip, tie, all_bad, unclear
            "display_order": str,  # JSON list of candidate ids as shown
            "seconds_spent": float,
            "updated_at": str,
        },
        pk=("prompt_id", "annotator"),
        foreign_keys=[("prompt_id", "prompts", "id")],
        not_null={"updated_at"},
    )


def m002_import_log(db: Database) -> None:
    """A record of every import: which file, its hash, what it added."""
    _table(db, "imports").create(
        {
            "id": int,
            "kind": str,  # prompts, candidates ...
            "path": str,
            "sha256": str,
            "format": str,
            "field": str,
            "added": int,
            "skipped_duplicates": int,
            "imported_at": str,
        },
        pk="id",
        not_null={"kind", "path", "sha256", "format", "added", "skipped_duplicates", "imported_at"},
    )


def m003_candidate_near_duplicates(db: Database) -> None:
    """Flag a candidate nearly identical to an earlier one of the same prompt (no signal)."""
    candidates = _table(db, "candidates")
    candidates.add_column("near_duplicate_of", str)
    candidates.add_column("similarity", float)


def m004_export_rounds(db: Database) -> None:
    """Every export: a staged round of training data, so the next one can build on it."""
    _table(db, "rounds").create(
        {
            "number": int,
            "created_at": str,
            "format": str,
            "out_dir": str,
            "policy": str,
            "min_margin": float,
            "val_fraction": float,
            "seed": int,
            "limit_pairs": int,
            "train_pairs": int,
            "validation_pairs": int,
            "disputed_excluded": int,
            "rubric_sha256": str,
            "files": str,  # JSON: relative path -> sha256
            "pair_keys": str,  # JSON: [[prompt id, chosen id, rejected id], ...]
        },
        pk="number",
        not_null={"created_at", "format", "out_dir", "policy", "files", "pair_keys"},
    )


def m005_resolutions(db: Database) -> None:
    """Adjudicated items: the pair (or no pair) a resolver settled on for a disputed prompt."""
    _table(db, "resolutions").create(
        {
            "prompt_id": str,
            "chosen_id": str,  # NULL with rejected_id NULL: no pair
            "rejected_id": str,
            "resolver": str,
            "note": str,
            "updated_at": str,
        },
        pk="prompt_id",
        foreign_keys=[("prompt_id", "prompts", "id")],
        not_null={"resolver", "updated_at"},
    )


def m006_eval_results(db: Database) -> None:
    """Evaluations of models on a round's pairs, and the per-response log-probabilities they
    computed (a cache, so an interrupted or repeated evaluation computes nothing twice)."""
    _table(db, "eval_runs").create(
        {
            "id": int,
            "created_at": str,
            "model_name": str,
            "model_sha256": str,
            "reference_name": str,  # NULL without a reference model
            "reference_sha256": str,
            "round_number": int,  # NULL: every exportable pair, no round
            "split": str,  # validation, train, all
            "pairs": int,
            "accuracy": float,  # share of pairs whose chosen has the higher summed log-prob
            "ci_low": float,
            "ci_high": float,
            "mean_accuracy": float,  # the same on the per-token mean log-prob
            "mean_margin": float,  # mean of chosen minus rejected summed log-prob
            "reward_accuracy": float,  # DPO implicit reward (log-ratio to the reference)
            "reward_ci_low": float,
            "reward_ci_high": float,
            "details": str,  # JSON: per-criterion and per-round figures, tokens, timing
        },
        pk="id",
        not_null={
            "created_at",
            "model_name",
            "model_sha256",
            "split",
            "pairs",
            "accuracy",
            "ci_low",
            "ci_high",
            "mean_accuracy",
            "mean_margin",
            "details",
        },
    )
    _table(db, "eval_logprobs").create(
        {
            "model_sha256": str,
            "prompt_id": str,
            "candidate_id": str,
            "template_sha256": str,  # the prompt template and tokenization rule
            "tokens": int,
            "logprob": float,  # summed over the response's tokens (natural log)
            "created_at": str,
        },
        pk=("model_sha256", "prompt_id", "candidate_id", "template_sha256"),
        not_null={"tokens", "logprob", "created_at"},
    )


def m007_prompt_near_duplicates(db: Database) -> None:
    """Near-duplicate prompt pairs: derived from the prompts, computed when they change and
    kept for the report and the export split (`meta.near_duplicates_of` fingerprints the
    prompts they were computed for)."""
    _table(db, "near_duplicate_prompts").create(
        {"first_id": str, "second_id": str, "similarity": float},
        pk=("first_id", "second_id"),
        not_null={"similarity"},
    )


def m008_score_cards(db: Database) -> None:
    """Scores as cards: one row per candidate and annotator holding every criterion's value
    (a JSON object, keys sorted), five times fewer rows to merge and read than one per
    criterion. A card's `updated_at` is that of its latest value."""
    cards: dict[tuple[str, str], tuple[dict[str, int], str]] = {}
    rows = db.execute(
        "select candidate_id, annotator, criterion, value, updated_at from scores order by rowid"
    )
    for cid, annotator, criterion, value, updated in rows:
        values, latest = cards.setdefault((cid, annotator), ({}, updated))
        values[criterion] = value
        cards[(cid, annotator)] = (values, max(latest, updated))
    _table(db, "scores").drop()
    _table(db, "scores").create(
        {"candidate_id": str, "annotator": str, "criteria": str, "updated_at": str},
        pk=("candidate_id", "annotator"),
        foreign_keys=[("candidate_id", "candidates", "id")],
        not_null={"criteria", "updated_at"},
    )
    _table(db, "scores").insert_all(
        (
            {
                "candidate_id": cid,
                "annotator": annotator,
                "criteria": card_json(values),
                "updated_at": updated,
            }
            for (cid, annotator), (values, updated) in cards.items()
        ),
        batch_size=5_000,
    )


def m009_rubric_versions(db: Database) -> None:
    """Every rubric version a project has had; the version each score card, judgement and
    round was made under (1 for what came before); and the cards a rescore replaced."""
    _table(db, "rubric_versions").create(
        {
            "number": int,
            "text": str,
            "sha256": str,
            "created_at": str,
            "author": str,
            "note": str,
            "mapping": str,  # JSON object: old key -> new key, from the previous version
            "rescale": str,  # stale or linear: old scores of a criterion whose scale changed
        },
        pk="number",
        not_null={"text", "sha256", "created_at", "author", "note", "mapping", "rescale"},
    )
    meta = dict(db.execute("select key, value from meta").fetchall())
    if "rubric_text" in meta:  # an existing project: its rubric is version 1
        _table(db, "rubric_versions").insert(
            {
                "number": 1,
                "text": meta["rubric_text"],
                "sha256": meta["rubric_sha256"],
                "created_at": meta.get("created_at", ""),
                "author": meta.get("annotator", ""),
                "note": "",
                "mapping": "{}",
                "rescale": "stale",
            }
        )
    for table in ("scores", "judgements", "rounds"):
        _table(db, table).add_column("rubric_version", int, not_null_default=1)
    _table(db, "score_history").create(
        {
            "candidate_id": str,
            "annotator": str,
            "rubric_version": int,
            "criteria": str,
            "updated_at": str,
            "replaced_at": str,
        },
        not_null={"candidate_id", "annotator", "rubric_version", "criteria", "updated_at"},
    )
    _table(db, "score_history").create_index(
        ["candidate_id", "annotator", "rubric_version", "criteria", "updated_at"], unique=True
    )


def m010_gold(db: Database) -> None:
    """Gold items: a lead's reference pair (and optional reference scores) for an item, never
    copied into an annotator's file; and the results of practice on them (`annotate
    --practice`), one row per item an annotator finished in practice."""
    _table(db, "gold").create(
        {
            "prompt_id": str,
            "chosen_id": str,
            "rejected_id": str,
            "scores": str,  # JSON: candidate id -> criterion -> reference value
            "explanation": str,
            "author": str,
            "rubric_version": int,
            "created_at": str,
        },
        pk="prompt_id",
        foreign_keys=[("prompt_id", "prompts", "id")],
        not_null={"chosen_id", "rejected_id", "scores", "explanation", "author", "created_at"},
    )
    _table(db, "practice_results").create(
        {
            "id": int,
            "annotator": str,
            "prompt_id": str,
            "same_chosen": int,  # 0 or 1; NULL when the item gave no pair
            "same_direction": int,
            "distances": str,  # JSON: criterion -> points from the reference scores
            "created_at": str,
        },
        pk="id",
        not_null={"annotator", "prompt_id", "distances", "created_at"},
    )


def m011_judge(db: Database) -> None:
    """A judge model's answers, kept whole: every sample of its scores of a candidate (a
    failed answer too, with its reply) and every pairwise verdict, each shown in one order.
    Judgements record the order items were annotated in and whether the judge's scores were
    shown (`annotate --suggest`)."""
    _table(db, "judge_samples").create(
        {
            "id": int,
            "judge": str,  # the judge's annotator name, judge:<model>@<sha12>
            "candidate_id": str,
            "sample": int,  # 0..k-1 for --samples k
            "attempt": int,  # 0 for the first try; retries of a failed answer count up
            "rubric_version": int,
            "criteria": str,  # a score card (JSON), NULL when the answer failed
            "reasons": str,
            "reply": str,  # the answer as the model wrote it
            "error": str,  # why it failed, '' when it did not
            "params": str,  # JSON: the decoding preset
            "model": str,
            "origin": str,
            "seconds": float,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("candidate_id", "candidates", "id")],
        not_null={"judge", "candidate_id", "sample", "attempt", "rubric_version", "reasons"}
        | {"reply", "error", "params", "model", "origin", "created_at"},
    )
    _table(db, "judge_samples").create_index(["judge", "candidate_id"])
    _table(db, "judge_verdicts").create(
        {
            "id": int,
            "judge": str,
            "prompt_id": str,
            "first_id": str,  # the candidate shown as A
            "second_id": str,  # the candidate shown as B
            "winner_id": str,  # NULL when the answer failed
            "rubric_version": int,
            "reply": str,
            "error": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("prompt_id", "prompts", "id")],
        not_null={"judge", "prompt_id", "first_id", "second_id", "rubric_version", "reply"}
        | {"error", "created_at"},
    )
    _table(db, "judge_verdicts").create_index(["judge", "prompt_id"])
    _table(db, "judgements").add_column("item_order", str, not_null_default="")
    _table(db, "judgements").add_column("suggested", int, not_null_default=0)


def m012_training_runs(db: Database) -> None:
    """Training runs (`dpo-tui train`): one row per run, never overwritten; the decision
    figures are added when the run's evaluation ends."""
    _table(db, "training_runs").create(
        {
            "id": int,
            "round_number": int,
            "rubric_version": int,
            "base_model": str,  # the path given (or the bundled GGUF's)
            "base_sha256": str,
            "data_sha256": str,  # sha256 of the training records (prompt, chosen, rejected)
            "pairs": int,
            "settings": str,  # JSON: every hyperparameter, the method (lora, full)
            "versions": str,  # JSON: torch, transformers, trl, peft
            "seed": int,
            "device": str,
            "out_dir": str,
            "status": str,  # running, interrupted, finished
            "started_at": str,
            "finished_at": str,
            "seconds": float,
            "metrics": str,  # JSON: the last logged train metrics
            "decision": str,  # JSON: the decision and its figures, NULL before it
            "details": str,  # JSON: resumed from, evaluations' ids, notes
        },
        pk="id",
        not_null={"round_number", "base_model", "base_sha256", "data_sha256", "pairs"}
        | {"settings", "versions", "seed", "device", "out_dir", "status", "started_at"},
    )


STEPS = (
    m001_initial,
    m002_import_log,
    m003_candidate_near_duplicates,
    m004_export_rounds,
    m005_resolutions,
    m006_eval_results,
    m007_prompt_near_duplicates,
    m008_score_cards,
    m009_rubric_versions,
    m010_gold,
    m011_judge,
    m012_training_runs,
)
SCHEMA_VERSION = len(STEPS)
CARDS_SINCE = STEPS.index(m008_score_cards) + 1
"""The first schema version storing score cards (one row per criterion before it)."""
VERSIONS_SINCE = STEPS.index(m009_rubric_versions) + 1
"""The first schema version keeping rubric versions (one rubric, never revised, before it)."""
KNOWN = [step.__name__ for step in STEPS]

migrations = Migrations(MIGRATION_SET)
for _step in STEPS:
    migrations()(_step)


def version_number(raw: object) -> int:
    """A stored schema version as a number; -1 for anything but a plain decimal of at most 9
    digits (a damaged or hostile value: a negative, a float, thousands of digits)."""
    text = raw if isinstance(raw, str) else str(raw) if isinstance(raw, int) else ""
    return int(text) if text.isascii() and text.isdecimal() and len(text) <= 9 else -1


def applied_names(db: Database) -> list[str]:
    """Names of the migrations of our set already applied to `db`, in order."""
    return [m.name for m in migrations.applied(db)]
