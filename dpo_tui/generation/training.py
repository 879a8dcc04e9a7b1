"""DPO training with TRL (`DPOTrainer`) on a Hugging Face copy of a base model: LoRA (peft)
or full fine-tuning, resumable checkpoints, live progress, a graceful stop on Ctrl-C, and at
the end the adapter and the merged weights as a standard checkpoint.

The training records are the pairs in the template the scorers use (`response_tokens`): the
prompt is the template rendered for the next assistant turn (its BOS left to the tokenizer,
which adds it, as the scorers do), each response the text the template writes for it after
that prompt; TRL appends the EOS token to each response.

torch, transformers, trl and peft are the optional `train` extra, imported when training
starts (`hf_scorer.import_extra` says what to install without them) and used through `Any`.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from dpo_tui.core.models import Message, PreferencePair
from dpo_tui.core.training import TrainSettings
from dpo_tui.errors import GenerationError
from dpo_tui.generation.hf_scorer import (
    INSTALL_EXTRAS,
    checkpoint_sha256,
    import_extra,
    tokenizer_template,
)
from dpo_tui.generation.models import cache_dir, model_sha256
from dpo_tui.generation.response_tokens import ResponseTokens
from dpo_tui.generation.scorers import check_model

LIBRARIES = ("torch", "transformers", "trl", "peft")
MODEL_FOLDER = "model"
ADAPTER_FOLDER = "adapter"


@dataclass
class TrainProgress:
    """Where a training run stands; passed to the callback after each logged step."""

    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    loss: float | None = None
    reward_accuracy: float | None = None
    first_step: int = 0
    """The step this run started at (after a resume, the checkpoint's)."""
    started: float = field(default_factory=time.perf_counter)
    stopping: bool = False
    """A stop was asked for (Ctrl-C): the run saves a checkpoint and ends after this step."""

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    @property
    def eta_seconds(self) -> float | None:
        done = self.step - self.first_step
        if done <= 0 or not self.total_steps:
            return None
        return self.seconds / done * (self.total_steps - self.step)


OnTrainProgress = Callable[[TrainProgress], None]


@dataclass(frozen=True)
class BaseModelRef:
    """A base model: the path given, its identity, and the Hugging Face folder trained from."""

    path: Path
    sha256: str
    folder: Path
    """The folder itself, or for a GGUF file its converted copy in the cache."""


@dataclass(frozen=True)
class TrainOutcome:
    """How a run ended."""

    status: str
    """finished or interrupted."""
    device: str
    step: int
    total_steps: int
    resumed_from: str | None
    checkpoint: str | None
    """The newest checkpoint folder in the output folder."""
    metrics: dict[str, Any]
    model_dir: Path | None
    adapter_dir: Path | None
    seconds: float


def library_versions() -> dict[str, str]:
    """The installed versions of the training libraries (empty for a missing one)."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = ""
    return versions


def require_extras() -> None:
    """A GenerationError saying what to install when a training library is missing."""
    for name in (*LIBRARIES, "datasets", "accelerate"):
        import_extra(name, use="train", hint=INSTALL_EXTRAS)


def resolve_device(device: str) -> str:
    """`auto`: cuda when torch sees a GPU, else cpu; a GenerationError for cuda without one."""
    torch = import_extra("torch")
    has_cuda = bool(torch.cuda.is_available())
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    if device == "cuda" and not has_cuda:
        raise GenerationError(
            "--device cuda: torch sees no CUDA GPU on this machine",
            hint="use --device cpu (or auto), or install a CUDA build of torch",
        )
    return device


def converted_folder(gguf: Path, sha256: str) -> Path:
    """Where the Hugging Face copy of a GGUF file is cached: keyed by the file's sha256."""
    return cache_dir() / "transformers" / sha256 / gguf.stem


def prepare_base(path: Path) -> BaseModelRef:
    """The base model at `path` (a Hugging Face folder or a GGUF file) ready to train from: a
    GGUF file is loaded by transformers (dequantized to float32) once and saved to the cache,
    where later runs load it in seconds."""
    path = check_model(path)
    if path.is_dir():
        return BaseModelRef(path, checkpoint_sha256(path), path)
    sha256 = model_sha256(path)
    folder = converted_folder(path, sha256)
    if (folder / "config.json").is_file():
        return BaseModelRef(path, sha256, folder)
    torch, transformers = import_extra("torch"), import_extra("transformers")
    import_extra("gguf")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            path.parent, gguf_file=path.name, local_files_only=True
        )
        model = transformers.AutoModelForCausalLM.from_pretrained(
            path.parent, gguf_file=path.name, local_files_only=True, dtype=torch.float32
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        raise GenerationError(
            f"{path}: transformers could not load this GGUF file: {error}",
            hint="pass a Hugging Face model folder as --base",
        ) from error
    if getattr(model, "hf_quantizer", None) is not None:
        # the weights are plain float32 already; the leftover quantization config would
        # make the model refuse training and saving
        model.hf_quantizer.remove_quantization_config(model)
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=folder.parent, suffix=".part"))
    try:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        partial.chmod(0o755)
        os.replace(partial, folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return BaseModelRef(path, sha256, folder)


Preference = tuple[Sequence[Message], str, str]
"""A conversation, the chosen response to it and the rejected one."""


def training_records(
    folder: Path, pairs: Sequence[PreferencePair], template: str | None = None
) -> list[dict[str, str]]:
    """`pairs` as TRL's standard preference records (`preference_records`)."""
    return preference_records(
        folder,
        [
            (
                pair.messages or (Message(role="user", content=pair.prompt),),
                pair.chosen,
                pair.rejected,
            )
            for pair in pairs
        ],
        template,
    )


def preference_records(
    folder: Path, preferences: Sequence[Preference], template: str | None = None
) -> list[dict[str, str]]:
    """TRL's standard preference records (prompt, chosen, rejected) in the template the
    scorers use with the model at `folder` (`hf_scorer.tokenizer_template`)."""
    transformers = import_extra("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    chosen_template = tokenizer_template(tokenizer, template)
    bos = chosen_template.bos_token
    texts = ResponseTokens(chosen_template, lambda _: [], lambda _: [])
    adds_bos = bool(bos) and tokenizer("x")["input_ids"][:1] == [tokenizer.bos_token_id]
    records = []
    for messages, chosen_text, rejected_text in preferences:
        prompt = chosen_template.render(messages)
        chosen = texts.completion(messages, prompt, chosen_text)
        rejected = texts.completion(messages, prompt, rejected_text)
        if adds_bos and prompt.startswith(bos):
            prompt = prompt[len(bos) :]  # the tokenizer adds it (TRL tokenizes with it)
        records.append(
            {
                "prompt": prompt,
                "chosen": chosen_text if chosen is None else chosen,
                "rejected": rejected_text if rejected is None else rejected,
            }
        )
    return records


@contextmanager
def _ctrl_c(progress: TrainProgress) -> Iterator[None]:
    """While training: a first Ctrl-C asks for a stop at the end of the step (with a
    checkpoint), a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(*_: object) -> None:
        if progress.stopping:
            raise KeyboardInterrupt
        progress.stopping = True

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _callback(
    transformers: Any, progress: TrainProgress, on_progress: OnTrainProgress | None
) -> Any:
    """A TrainerCallback feeding `progress` and stopping (with a checkpoint) when asked."""

    class Progress(transformers.TrainerCallback):  # type: ignore[misc]
        def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            progress.first_step = progress.step = int(state.global_step)
            progress.total_steps = int(state.max_steps)
            progress.started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> Any:
            progress.step = int(state.global_step)
            progress.epoch = float(state.epoch or 0.0)
            if progress.step >= progress.total_steps:
                control.should_save = True  # a rerun after a crash resumes at the end
            if progress.stopping:
                control.should_save = True
                control.should_training_stop = True
            return control

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> Any:
            logs = logs or {}
            if "loss" not in logs:
                return control
            progress.loss = float(logs["loss"])
            if "rewards/accuracies" in logs:
                progress.reward_accuracy = float(logs["rewards/accuracies"])
            if on_progress is not None:
                try:
                    on_progress(progress)
                except KeyboardInterrupt:
                    progress.stopping = True
            if progress.stopping:
                control.should_save = True
                control.should_training_stop = True
            return control

    return Progress()


def _quiet(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`function(*args, **kwargs)` without the FutureWarnings of trl 1.16 still using
    transformers' old name for activation checkpointing, and without the tqdm bar TRL draws
    while it computes the reference log-probabilities (it would garble the live progress; the
    service says that stage instead)."""
    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*gradient_checkpointing", FutureWarning)
            return function(*args, **kwargs)
    finally:
        if before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before


def train_dpo(
    base: Path,
    records: list[dict[str, str]],
    out: Path,
    settings: TrainSettings,
    on_progress: OnTrainProgress | None = None,
    chat_template: str | None = None,
) -> TrainOutcome:
    """Train the model in folder `base` on `records` into `out`, resuming from the newest
    checkpoint there if any. A stop asked for (Ctrl-C, or a KeyboardInterrupt raised by
    `on_progress`) saves a checkpoint and returns an `interrupted` outcome; a finished run
    writes `out/adapter` (LoRA) and `out/model` (merged weights and tokenizer, with
    `chat_template` as its template when the records were rendered in one of the user's)."""
    torch = import_extra("torch")
    transformers = import_extra("transformers")
    trl, datasets = import_extra("trl"), import_extra("datasets")
    peft = None if settings.full else import_extra("peft")
    device = resolve_device(settings.device)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    started = time.perf_counter()
    tokenizer = transformers.AutoTokenizer.from_pretrained(base, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = transformers.AutoModelForCausalLM.from_pretrained(
        base, local_files_only=True, dtype=torch.float32
    )
    config = _quiet(
        trl.DPOConfig,
        output_dir=str(out),
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=1,
        num_train_epochs=settings.epochs,
        learning_rate=settings.lr,
        beta=settings.beta,
        max_length=settings.max_length,
        precompute_ref_log_probs=True,
        logging_steps=1,
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=2,
        report_to="none",
        use_cpu=device == "cpu",
        bf16=device == "cuda" and bool(torch.cuda.is_bf16_supported()),
        gradient_checkpointing=False,
        dataloader_num_workers=0,
        seed=settings.seed,
        data_seed=settings.seed,
        disable_tqdm=True,
    )
    lora = None
    if peft is not None:
        lora = peft.LoraConfig(
            r=settings.lora_r,
            lora_alpha=settings.lora_alpha,
            lora_dropout=settings.lora_dropout,
            target_modules=settings.lora_targets,
            task_type="CAUSAL_LM",
        )
    progress = TrainProgress()
    trainer = _quiet(
        trl.DPOTrainer,
        model=model,
        args=config,
        train_dataset=datasets.Dataset.from_list(records),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[_callback(transformers, progress, on_progress)],
    )
    trainer.remove_callback(transformers.PrinterCallback)  # the progress callback shows steps
    last = transformers.trainer_utils.get_last_checkpoint(str(out)) if out.is_dir() else None
    with _ctrl_c(progress):
        _quiet(trainer.train, resume_from_checkpoint=last)
    history = trainer.state.log_history
    metrics = next((dict(h) for h in reversed(history) if "loss" in h), {})
    metrics |= next((dict(h) for h in reversed(history) if "train_runtime" in h), {})
    step, total = int(trainer.state.global_step), int(trainer.state.max_steps)
    checkpoint = transformers.trainer_utils.get_last_checkpoint(str(out))

    def outcome(status: str, model_dir: Path | None, adapter_dir: Path | None) -> TrainOutcome:
        seconds = time.perf_counter() - started
        return TrainOutcome(
            status, device, step, total, last, checkpoint, metrics, model_dir, adapter_dir, seconds
        )

    if progress.stopping and step < total:
        return outcome("interrupted", None, None)
    model_dir, adapter_dir = out / MODEL_FOLDER, None
    trained = trainer.model
    if lora is not None:
        adapter_dir = out / ADAPTER_FOLDER
        trained.save_pretrained(adapter_dir)
        trained = trained.merge_and_unload()
    trained.save_pretrained(model_dir)
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(model_dir)
    return outcome("finished", model_dir, adapter_dir)
