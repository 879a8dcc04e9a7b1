"""HFScorer: on a tiny checkpoint built here, agreement with a direct computation, batching,
tokenization, a chat template, the folder's identity, errors and the message without the
extras; with the bundled model (slow), agreement with llama.cpp's LogprobScorer and a cache
that never mixes the two scorers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dpo_tui.core.models import Message
from dpo_tui.errors import GenerationError
from dpo_tui.generation.hf_scorer import HFScorer, checkpoint_name, checkpoint_sha256
from dpo_tui.generation.logprob import LogprobScorer
from dpo_tui.generation.models import default_model_path
from dpo_tui.generation.scorers import check_model, choose_scorer
from tests.conftest import REPO
from tests.tiny_model import tiny_checkpoint

SAMPLES = [json.loads(line) for line in (REPO / "sample_data/candidates_handwritten.jsonl").open()]
QUESTION = (Message(role="user", content="How do I reset my password?"),)
ANSWERS = [
    "Open Settings, choose Security, then click Reset password.",
    "Reset password Security, choose then click Settings open.",
    "I cannot help with that.",
]
CHAT = (
    "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content | trim }}"
    "{{ eos_token }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
TOLERANCE = 0.06
"""nats per token: llama.cpp multiplies the Q4_K_M weights by 8-bit-quantized activations,
transformers dequantizes them to float32 (0.046 measured at most on the sample pairs; an f32
GGUF of the same weights agrees within 0.001)."""


def texts() -> list[str]:
    return [row["prompt"] + " " + " ".join(row["responses"]) for row in SAMPLES]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "model", texts())


@pytest.fixture(scope="module")
def scorer(tiny: Path) -> Iterator[HFScorer]:
    with HFScorer(tiny, threads=1) as model:
        yield model


def direct_logprob(folder: Path, prompt: list[int], response: list[int]) -> float:
    """The response's summed log-probability from a plain forward pass over prompt + response,
    every position's logits log-softmaxed in float64."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt + response])).logits[0].double()
    rows = torch.log_softmax(logits, -1)[len(prompt) - 1 : -1]
    return float(rows.gather(1, torch.tensor(response)[:, None]).sum())


# -- a tiny checkpoint -------------------------------------------------------------------------


def test_agrees_with_a_direct_computation_in_any_batching(scorer: HFScorer, tiny: Path):
    prompt, encoded = scorer.encode(QUESTION, ANSWERS)
    together = scorer.score(QUESTION, ANSWERS)
    for tokens, result in zip(encoded, together, strict=True):
        assert result.tokens == len(tokens)
        assert result.logprob == pytest.approx(direct_logprob(tiny, prompt, tokens), abs=1e-4)
    scorer.max_logits = 1  # each response alone
    try:
        alone = scorer.score(QUESTION, ANSWERS)
    finally:
        scorer.max_logits = 256
    for a, b in zip(alone, together, strict=True):
        assert a.tokens == b.tokens and a.logprob == pytest.approx(b.logprob, abs=1e-4)
    [empty] = scorer.score(QUESTION, [""])
    assert (empty.tokens, empty.logprob) == (0, 0.0)


def test_an_architecture_without_logits_to_keep_scores_the_same(scorer: HFScorer):
    model = scorer._model

    def older(*, input_ids: object, use_cache: bool, **rest: object) -> object:
        if rest:
            raise TypeError("forward() got an unexpected keyword argument 'logits_to_keep'")
        return model(input_ids=input_ids, use_cache=use_cache)

    expected = scorer.score(QUESTION, ANSWERS)
    scorer._model = older
    try:
        got = scorer.score(QUESTION, ANSWERS)
    finally:
        scorer._model = model
    assert [r.tokens for r in got] == [r.tokens for r in expected]
    assert [r.logprob for r in got] == pytest.approx([r.logprob for r in expected], abs=1e-4)


def test_tokenization_follows_generation(scorer: HFScorer, tiny: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    assert scorer.template.source == "default"
    text = scorer.template.render(QUESTION)
    assert text.endswith("Answer:")
    prompt, [response] = scorer.encode(QUESTION, [ANSWERS[0]])
    whole = tokenizer(text + " " + ANSWERS[0])["input_ids"]
    assert prompt + response == whole and prompt == tokenizer(text)["input_ids"]
    assert prompt.count(tokenizer.bos_token_id) == 1 and prompt[0] == tokenizer.bos_token_id


def test_a_checkpoint_with_a_chat_template_scores_the_turn_and_its_end(tmp_path: Path):
    folder = tiny_checkpoint(tmp_path / "chat", texts(), chat_template=CHAT)
    with HFScorer(folder) as chat:
        assert chat.template.text == CHAT
        prompt, [response] = chat.encode(QUESTION, [ANSWERS[0]])
        bos, eos = chat._tokenizer.bos_token_id, chat._tokenizer.eos_token_id
        # the template writes BOS: not added a second time; the turn's end is scored
        assert prompt[0] == bos and prompt.count(bos) == 1
        assert response[-1] == eos
        assert chat.tokenize("<bos>Hi") == chat.tokens("<bos>Hi", add_bos=False)
        assert chat.tokenize("Hi") == [bos, *chat.tokens("Hi", add_bos=False)]
        custom = HFScorer(folder, prompt_template="{{ messages[0].content }} =>")
        assert custom.template.source == "custom"
        assert custom.scoring_sha256 != chat.scoring_sha256


def test_identity_name_and_errors(tiny: Path, tmp_path: Path):
    assert checkpoint_sha256(tiny) == checkpoint_sha256(tiny)
    copy = tmp_path / "run" / "checkpoint-40"
    copy.mkdir(parents=True)
    for path in tiny.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    assert checkpoint_sha256(copy) == checkpoint_sha256(tiny)
    assert checkpoint_name(copy) == "run/checkpoint-40" and checkpoint_name(tiny) == "model"
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps(config | {"rms_norm_eps": 1e-5}))
    assert checkpoint_sha256(copy) != checkpoint_sha256(tiny)
    (copy / "model.safetensors").unlink()
    with pytest.raises(GenerationError, match="no weights"):
        checkpoint_sha256(copy)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GenerationError, match="not a Hugging Face model folder"):
        check_model(empty)
    (empty / "adapter_config.json").write_text("{}")
    with pytest.raises(GenerationError, match="merge_and_unload"):
        check_model(empty)
    with pytest.raises(GenerationError, match="model file not found"):
        HFScorer(tmp_path / "missing.gguf")
    with pytest.raises(GenerationError, match=r"llama\.cpp reads only GGUF"):
        choose_scorer([tiny], "llama")
    assert choose_scorer([tmp_path / "a.gguf", tiny], None) == "transformers"
    assert choose_scorer([tmp_path / "a.gguf", None], None) == "llama"


def test_without_the_extras_the_message_says_what_to_install(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "transformers", None)  # `import transformers` fails
    with pytest.raises(GenerationError) as caught:
        HFScorer(tiny)
    message = str(caught.value)
    assert "needs the package transformers" in message
    assert "pip install -e '.[train]'" in message
    assert "https://download.pytorch.org/whl/cpu" in message


def test_dpo_tui_imports_neither_torch_nor_transformers_until_a_scorer_opens():
    code = (
        "import sys; import dpo_tui.cli, dpo_tui.services.evaluating, "
        "dpo_tui.generation.hf_scorer, dpo_tui.generation.scorers, "
        "dpo_tui.services.training, dpo_tui.generation.training; "
        "print(sorted({'torch', 'transformers', 'trl', 'peft'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.strip() == "[]"


# -- with the real bundled model -----------------------------------------------------------


@pytest.fixture(scope="module")
def bundled() -> Iterator[HFScorer]:
    with HFScorer(default_model_path()) as model:
        yield model


GEMMA_CHAT = (
    "{{ bos_token }}{% for message in messages %}{% if message.role == 'assistant' %}"
    "{% set role = 'model' %}{% else %}{% set role = message.role %}{% endif %}"
    "<start_of_turn>{{ role }}\n{{ message.content | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


@pytest.mark.slow
def test_the_two_scorers_agree_on_the_bundled_model(bundled: HFScorer):
    """Same tokens; per-token means within TOLERANCE; each pair in the same order by sum.
    Sample pairs: the first two responses of a few sample prompts, in the default template
    (the bundled model's) and in Gemma's chat template (BOS written by the template)."""
    worst = 0.0
    cases = [(None, row) for row in SAMPLES[:3]] + [(GEMMA_CHAT, row) for row in SAMPLES[3:5]]
    for template, row in cases:
        messages = (Message(role="user", content=row["prompt"]),)
        responses = row["responses"][:2]
        hf = bundled.with_template(template)
        with LogprobScorer(n_ctx=2048, prompt_template=template) as llama:
            assert llama.encode(messages, responses) == hf.encode(messages, responses)
            ours, theirs = llama.score(messages, responses), hf.score(messages, responses)
        for a, b in zip(ours, theirs, strict=True):
            assert a.tokens == b.tokens
            worst = max(worst, abs(a.mean - b.mean))
        assert (ours[0].logprob > ours[1].logprob) == (theirs[0].logprob > theirs[1].logprob)
    print(f"\nmax |per-token mean difference| llama.cpp vs transformers: {worst:.4f} nats")
    assert worst < TOLERANCE


class Borrowed:
    """A scorer `score_model` opens and closes, on the module's loaded model."""

    def __init__(self, scorer: HFScorer) -> None:
        self.scorer = scorer.with_template(None)

    def __enter__(self) -> HFScorer:
        return self.scorer

    def __exit__(self, *_: object) -> None:
        pass


@pytest.mark.slow
def test_the_cache_never_mixes_the_two_scorers(
    bundled: HFScorer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The same GGUF under llama.cpp and transformers: each scorer's log-probabilities are
    stored apart, and each run reuses only its own."""
    import dpo_tui.services.evaluating as evaluating
    from dpo_tui.services.evaluating import ScorerOptions, score_model, select_pairs
    from dpo_tui.store.project import ProjectStore
    from tests.services.test_evaluating import build

    opened = []
    real = evaluating.open_scorer

    def open_scorer(model: Path, engine: str, **settings: object) -> object:
        opened.append(engine)
        return Borrowed(bundled) if engine == "transformers" else real(model, engine, **settings)

    monkeypatch.setattr(evaluating, "open_scorer", open_scorer)
    gguf = default_model_path()
    with ProjectStore.open(build(tmp_path / "m.dpo")) as store:
        pairs = select_pairs(store, "all").pairs
        runs = [
            score_model(store, pairs, gguf, ScorerOptions(scorer=engine))
            for engine in ("llama", "transformers", "llama", "transformers")
        ]
        [stored] = store.db.execute("select count(*) from eval_logprobs").fetchone()
    assert opened == ["llama", "transformers", "llama", "transformers"]
    llama, hf, llama_again, hf_again = runs
    responses = 2 * len(pairs)
    assert llama.sha256 == hf.sha256 and llama.template == hf.template  # same file, template
    assert llama.template_sha256 != hf.template_sha256
    assert (llama.progress.computed, hf.progress.computed) == (responses, responses)
    assert hf.progress.cached == 0 and stored == 2 * responses
    assert llama.logprobs != hf.logprobs
    assert (llama_again.progress.computed, hf_again.progress.computed) == (0, 0)
    assert llama_again.logprobs == llama.logprobs and hf_again.logprobs == hf.logprobs
    assert (llama.scorer, hf.scorer) == ("llama", "transformers")
