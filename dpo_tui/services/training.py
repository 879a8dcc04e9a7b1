"""Train a model on a round and decide what to do next.

`train_round` takes exactly the round's train split (`evaluating.select_pairs`), in the
template the scorers use, trains the base model on it with TRL's DPO (`generation.training`),
records the run in the project (`store.training`), and, when training finished, evaluates the
base and the trained model on the round's held-out validation pairs with the transformers
scorer (`evaluating.evaluate` and `compare`, the figures of `dpo-tui eval`) to give the
decision of `core.training.decide`. A rerun into the same output folder resumes from its
newest checkpoint; a run never overwrites another's record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dpo_tui.core.training import GGUF_TYPES, Decision, GgufType, TrainSettings, decide
from dpo_tui.errors import DpoError
from dpo_tui.generation.gguf_export import GgufExport, export_gguf, gguf_name
from dpo_tui.generation.hf_scorer import INSTALL_EXTRAS, TRAIN_MANIFEST, import_extra
from dpo_tui.generation.models import default_model_path
from dpo_tui.generation.training import (
    BaseModelRef,
    OnTrainProgress,
    TrainOutcome,
    library_versions,
    prepare_base,
    require_extras,
    resolve_device,
    train_dpo,
    training_records,
)
from dpo_tui.services.atomic import write_whole
from dpo_tui.services.evaluating import (
    Comparison,
    Evaluation,
    OnProgress,
    ScorerOptions,
    Selection,
    compare,
    evaluate,
    select_pairs,
)
from dpo_tui.store.project import ProjectStore
from dpo_tui.store.records import now
from dpo_tui.store.training import (
    TrainingRun,
    record_training,
    training_runs,
    update_training,
)

MANIFEST = TRAIN_MANIFEST
"""What a run's output folder was started with: a rerun must match it to resume there."""
RUN_FILE = "run.json"
LOCK_FILE = ".train.lock"

OnStage = Callable[[str], None]


@dataclass(frozen=True)
class TrainResult:
    """A run: its record, how training ended, and (when it finished) the decision."""

    run: TrainingRun
    outcome: TrainOutcome
    base: BaseModelRef
    resumed: bool
    gguf: GgufExport | None = None
    gguf_note: str | None = None
    """Why no GGUF was written, when none was."""
    base_eval: Evaluation | None = None
    trained_eval: Evaluation | None = None
    comparison: Comparison | None = None
    decision: Decision | None = None


def default_out(project: Path, round_number: int) -> Path:
    """`runs/round<N>-<UTC timestamp>` beside the project file."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return project.resolve().parent / "runs" / f"round{round_number}-{stamp}"


def records_sha256(records: list[dict[str, str]]) -> str:
    """The identity of the training data: sha256 of the records as sorted-key JSON lines."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(json.dumps(record, sort_keys=True, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


def _train_selection(store: ProjectStore, round_number: int | None) -> Selection:
    try:
        return select_pairs(store, "train", round_number)
    except DpoError as error:
        raise DpoError(
            f"{error.message}: nothing to train on",
            hint="export a round whose train split has pairs (`dpo-tui export`)",
        ) from error


def _check_manifest(out: Path, manifest: dict[str, Any]) -> bool:
    """Whether `out` holds a run started with `manifest` (to resume); a DpoError when it
    holds another run's checkpoints; writes the manifest for a new run."""
    path = out / MANIFEST
    if path.is_file():
        try:
            before = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise DpoError(
                f"{path}: cannot read this run's settings ({error})",
                hint="train into a new --out folder",
            ) from None
        if not isinstance(before, dict):
            before = {}
        if before != manifest:
            changed = sorted(k for k in manifest if before.get(k) != manifest[k])
            raise DpoError(
                f"{out} holds a run with another {', '.join(changed)}: it cannot resume it",
                hint="train into a new --out folder, or rerun with the same options",
            )
        return True
    if out.exists() and any(out.iterdir()):
        raise DpoError(
            f"{out} is not empty and holds no dpo-tui training run",
            hint="choose a new or empty --out folder",
        )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return False


def train_round(
    store: ProjectStore,
    round_number: int | None,
    out: Path,
    *,
    base: Path | None = None,
    settings: TrainSettings | None = None,
    on_progress: OnTrainProgress | None = None,
    on_eval_progress: OnProgress | None = None,
    on_stage: OnStage | None = None,
    template: str | None = None,
    gguf: GgufType | None = "q8_0",
) -> TrainResult:
    """Train on round `round_number`'s train split (default: the latest round) into `out`,
    write the trained model as a GGUF file of type `gguf` (`q8_0`, `f16`; None: none) when
    the base was one, then evaluate and decide (see the module's doc). `template`: the Jinja2
    chat template the candidates were generated with, if not the model's (as `eval
    --template`)."""

    settings = settings or TrainSettings()

    def stage(text: str) -> None:
        if on_stage is not None:
            on_stage(text)

    selection = _train_selection(store, round_number)
    assert selection.round is not None  # a train split exists only in a round
    require_extras()
    device = resolve_device(settings.device)
    base_path = default_model_path() if base is None else base
    stage(
        f"Preparing the base model {base_path.name}"
        + (" (a GGUF is converted once, then cached)." if base_path.is_file() else ".")
    )
    ref = prepare_base(base_path)
    records = training_records(ref.folder, selection.pairs, template)
    template_sha256 = None if template is None else hashlib.sha256(template.encode()).hexdigest()
    data_sha256 = records_sha256(records)
    resumed = _check_manifest(
        out,
        {
            "round": selection.round.number,
            "base_sha256": ref.sha256,
            "data_sha256": data_sha256,
            "settings": {k: v for k, v in settings.record().items() if k != "device"},
            "template_sha256": template_sha256,
        },
    )
    if resumed:
        _refuse_finished(out)
    with _exclusive(out):
        _close_lost_runs(store, out)
        run = record_training(
            store,
            TrainingRun(
                round_number=selection.round.number,
                rubric_version=selection.round.rubric_version,
                base_model=str(ref.path),
                base_sha256=ref.sha256,
                data_sha256=data_sha256,
                pairs=len(records),
                settings=settings.record(),
                versions=library_versions(),
                seed=settings.seed,
                device=device,
                out_dir=str(out.resolve()),
                status="running",
                started_at=now(),
                details={
                    "base_folder": str(ref.folder),
                    "resumed": resumed,
                    "template_sha256": template_sha256,
                },
            ),
        )
        stage(
            f"Training on {len(records)} pairs of round {selection.round.number} ({device}): "
            "first the base model's log-probabilities of every pair (DPO's reference), then "
            "the steps."
        )
        settings = settings.model_copy(update={"device": device})
        result = _train(store, run, ref, records, out, settings, on_progress, template, resumed)
        model_dir = result.outcome.model_dir
        if model_dir is not None and gguf is not None:
            result = _export(store, result, gguf, template, stage)
        if model_dir is not None:
            options = ScorerOptions(scorer="transformers", template=template)
            number = selection.round.number
            result = _decide(store, result, number, options, on_eval_progress, stage)
        record = json.dumps(result.run.model_dump(), indent=2)
        (out / RUN_FILE).write_text(record, encoding="utf-8")
    return result


def _train(
    store: ProjectStore,
    run: TrainingRun,
    ref: BaseModelRef,
    records: list[dict[str, str]],
    out: Path,
    settings: TrainSettings,
    on_progress: OnTrainProgress | None,
    template: str | None,
    resumed: bool,
) -> TrainResult:
    """Train (`train_dpo`) and record how it ended with the run."""
    try:
        outcome = train_dpo(ref.folder, records, out, settings, on_progress, template)
    except BaseException as error:
        status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        update_training(store, run.model_copy(update={"status": status, "finished_at": now()}))
        raise
    run = run.model_copy(
        update={
            "status": outcome.status,
            "finished_at": now(),
            "seconds": round(outcome.seconds, 3),
            "metrics": outcome.metrics,
            "details": (run.details or {})
            | {
                "resumed_from": outcome.resumed_from,
                "checkpoint": outcome.checkpoint,
                "steps": outcome.step,
                "total_steps": outcome.total_steps,
                "model_dir": None if outcome.model_dir is None else str(outcome.model_dir),
                "adapter_dir": None if outcome.adapter_dir is None else str(outcome.adapter_dir),
            },
        }
    )
    update_training(store, run)
    return TrainResult(run, outcome, ref, resumed)


@contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Hold `out`'s lock while training there: a DpoError when another process holds it."""
    filelock = import_extra("filelock", use="train", hint=INSTALL_EXTRAS)
    lock = filelock.FileLock(out / LOCK_FILE)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise DpoError(
            f"{out}: another `dpo-tui train` is running into this folder",
            hint="wait for it to end, or train into a new --out folder",
        ) from None
    try:
        yield
    finally:
        lock.release()


def _close_lost_runs(store: ProjectStore, out: Path) -> None:
    """Mark `stopped` the runs recorded as running into `out`: with its lock free, their
    process ended without recording how (killed, or the machine went down)."""
    where = str(out.resolve())
    for lost in training_runs(store):
        if lost.out_dir == where and lost.status == "running":
            note = f"found running at {now()} with no process training: killed or crashed"
            details = (lost.details or {}) | {"stopped": note}
            update_training(
                store, lost.model_copy(update={"status": "stopped", "details": details})
            )


def _refuse_finished(out: Path) -> None:
    """A DpoError when `out` holds a run that finished (its `run.json` says so)."""
    try:
        before = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return
    if isinstance(before, dict) and before.get("status") == "finished":
        decision = before.get("decision") or {}
        said = f": {decision['text']}" if isinstance(decision.get("text"), str) else ""
        raise DpoError(
            f"{out} holds a finished run (training run {before.get('id')}){said}",
            hint="train into a new --out folder to train again; `dpo-tui rounds` shows the "
            "decisions",
        )


def _export(
    store: ProjectStore,
    result: TrainResult,
    kind: GgufType,
    template: str | None,
    stage: OnStage,
) -> TrainResult:
    """Write the trained model as a GGUF file when its base was one or has one beside it
    (`gguf_export`, `_gguf_source`), and record where (or why not) with the run."""
    model_dir = result.outcome.model_dir
    assert model_dir is not None
    exported, note, source = None, None, _gguf_source(result.base.path)
    if source is None:
        note = (
            "the base is a Hugging Face folder with no GGUF of it beside it to copy the "
            f"tokenizer from; llama.cpp's convert_hf_to_gguf.py converts {model_dir}"
        )
    else:
        stage(f"Writing the trained model as a GGUF file ({kind}) for llama.cpp.")
        try:
            target = gguf_name(model_dir, kind)

            def write(staged: Path) -> None:
                nonlocal exported
                done = export_gguf(model_dir, source, staged, kind, template)
                exported = replace(done, path=target)

            write_whole(target, write)
        except DpoError as error:
            note = error.message + (f" ({error.hint})" if error.hint else "")
        except OSError as error:
            note = f"writing the GGUF file failed: {error}"
    record: dict[str, Any] = (
        {"note": note}
        if exported is None
        else {
            "path": str(exported.path),
            "type": kind,
            "metadata_from": str(source),
            "seconds": round(exported.seconds, 3),
        }
    )
    run = result.run.model_copy(update={"details": (result.run.details or {}) | {"gguf": record}})
    update_training(store, run)
    return replace(result, run=run, gguf=exported, gguf_note=note)


def _gguf_source(base: Path) -> Path | None:
    """The GGUF file whose metadata and tokenizer a model trained from `base` is written with:
    the base itself, or for a folder (a model trained in an earlier round) the GGUF written
    beside it (`gguf_name`); None when there is none."""
    if base.is_file():
        return base
    beside = (gguf_name(base, kind) for kind in GGUF_TYPES)
    return next((path for path in beside if path.is_file()), None)


def _decide(
    store: ProjectStore,
    result: TrainResult,
    round_number: int,
    options: ScorerOptions,
    on_eval_progress: OnProgress | None,
    stage: OnStage,
) -> TrainResult:
    """Evaluate the base and the trained model on the round's validation pairs, compare them,
    decide, and record the decision with the run."""
    try:
        validation = select_pairs(store, "validation", round_number)
    except DpoError as error:
        stage(f"No decision: {error.message}.")
        return result
    assert result.outcome.model_dir is not None
    stage(f"Evaluating the base and the trained model on {len(validation.pairs)} held-out pairs.")
    base_eval = evaluate(
        store, validation, result.base.folder, options=options, on_progress=on_eval_progress
    )
    trained_eval = evaluate(
        store,
        validation,
        result.outcome.model_dir,
        reference=result.base.folder,
        options=options,
        on_progress=on_eval_progress,
    )
    comparison = compare(base_eval, trained_eval)
    decision = decide(
        base_eval.overall.accuracy,
        trained_eval.overall.accuracy,
        comparison.accuracy_difference_ci,
        comparison.pairs,
    )
    run = result.run.model_copy(
        update={
            "decision": decision.model_dump()
            | {"base_eval_id": base_eval.run.id, "trained_eval_id": trained_eval.run.id}
        }
    )
    update_training(store, run)
    return replace(
        result,
        run=run,
        base_eval=base_eval,
        trained_eval=trained_eval,
        comparison=comparison,
        decision=decision,
    )
