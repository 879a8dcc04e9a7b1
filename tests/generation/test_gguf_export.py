"""A trained model back to GGUF (`gguf_export`): from a tiny Llama GGUF built in the test
(tests/tiny_model.py), `train` writes the trained model as a GGUF file that holds exactly the
checkpoint's weights in llama.cpp's layout and that llama.cpp scores as transformers scores the
checkpoint; the rotary permutation inverts transformers'; a checkpoint that does not fit its
base and an architecture without a known inverse are refused with what to do."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dpo_tui.core.models import Message
from dpo_tui.core.training import TrainSettings
from dpo_tui.errors import GenerationError
from dpo_tui.generation.gguf_export import export_gguf, gguf_name, permute_rotary
from dpo_tui.generation.hf_scorer import HFScorer
from dpo_tui.generation.logprob import LogprobScorer
from dpo_tui.services.training import RUN_FILE, train_round
from dpo_tui.store.project import ProjectStore
from dpo_tui.store.training import training_runs
from tests.services.test_evaluating import ANSWERS, exported, run  # noqa: F401 (a fixture)
from tests.tiny_model import tiny_checkpoint, tiny_gguf

pytest.importorskip("trl")
gguf = pytest.importorskip("gguf")

QUESTION = (Message(role="user", content="How do I boil an egg?"),)
RESPONSES = [ANSWERS["How do I boil an egg?"], "Eggs are not for boiling, ever, at all."]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama as a float32 GGUF file, as llama.cpp's converter writes one."""
    root = tmp_path_factory.mktemp("tiny")
    folder = tiny_checkpoint(root / "hf", [f"{q} {a}" for q, a in ANSWERS.items()])
    return tiny_gguf(folder, root / "tiny-llama.gguf")


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The converted copy of the tiny GGUF goes to a cache of the test's own."""
    monkeypatch.setenv("DPO_TUI_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def tensors(path: Path) -> dict[str, np.ndarray]:
    """A GGUF file's tensors, dequantized to float32."""
    return {
        t.name: gguf.quants.dequantize(t.data, t.tensor_type) for t in gguf.GGUFReader(path).tensors
    }


def test_the_rotary_order_is_the_inverse_of_transformers():
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    processor = LlamaTensorProcessor()
    rng = np.random.default_rng(0)
    for heads, kv_heads, rows in ((4, 4, 64), (4, 2, 32), (8, 1, 16)):
        weights = rng.standard_normal((rows, 24)).astype(np.float32)
        permuted = permute_rotary(weights, kv_heads)
        assert not np.array_equal(permuted, weights)
        back = processor._reverse_permute_weights(permuted, heads, kv_heads)
        assert np.array_equal(back, weights)


def test_train_writes_the_trained_model_as_a_gguf_that_llama_cpp_scores_alike(
    exported: Path,  # noqa: F811 (the fixture)
    tiny: Path,
    tmp_path: Path,
):
    out = tmp_path / "run"
    settings = TrainSettings(epochs=2, batch_size=1, learning_rate=5e-2, seed=1)
    with ProjectStore.open(exported) as store:
        result = train_round(store, 1, out, base=tiny, settings=settings, gguf="f16")
    model = out / "model"
    assert result.gguf is not None and result.gguf.path == gguf_name(model, "f16")
    assert result.gguf.path == out / "model-f16.gguf" and result.gguf.copied == 0
    with ProjectStore.open(exported) as store:
        [recorded] = training_runs(store)
    assert recorded.details is not None
    assert recorded.details["gguf"]["path"] == str(result.gguf.path)
    assert json.loads((out / RUN_FILE).read_text())["details"]["gguf"]["type"] == "f16"

    # the file holds the checkpoint's weights, in llama.cpp's names and rotary order
    import safetensors.numpy

    trained = safetensors.numpy.load_file(str(next(model.glob("*.safetensors"))))
    written, base = tensors(result.gguf.path), tensors(tiny)
    heads, kv_heads = 4, 2
    q = permute_rotary(trained["model.layers.1.self_attn.q_proj.weight"], heads)
    k = permute_rotary(trained["model.layers.1.self_attn.k_proj.weight"], kv_heads)
    assert np.allclose(written["blk.1.attn_q.weight"], q, atol=1e-3)
    assert np.allclose(written["blk.1.attn_k.weight"], k, atol=1e-3)
    assert np.array_equal(written["output_norm.weight"], trained["model.norm.weight"])
    assert not np.allclose(written["blk.1.attn_q.weight"], base["blk.1.attn_q.weight"], atol=1e-3)
    assert set(written) == set(base)

    # llama.cpp reads it as transformers reads the checkpoint
    with HFScorer(model) as hf, LogprobScorer(model_path=result.gguf.path, n_ctx=512) as llama:
        assert llama.encode(QUESTION, RESPONSES) == hf.encode(QUESTION, RESPONSES)
        ours, theirs = llama.score(QUESTION, RESPONSES), hf.score(QUESTION, RESPONSES)
        with LogprobScorer(model_path=tiny, n_ctx=512) as untrained:
            before = untrained.score(QUESTION, RESPONSES)
    for a, b, c in zip(ours, theirs, before, strict=True):
        assert abs(a.mean - b.mean) < 2e-3
        assert abs(a.mean - c.mean) > 10 * abs(a.mean - b.mean)  # training moved it

    q8 = export_gguf(model, tiny, gguf_name(model, "q8_0"), "q8_0")
    assert q8.path == out / "model-q8_0.gguf"
    written = tensors(q8.path)
    assert np.allclose(written["blk.1.attn_q.weight"], q, atol=np.abs(q).max() / 100)
    with LogprobScorer(model_path=q8.path, n_ctx=512) as llama:
        for a, b in zip(llama.score(QUESTION, RESPONSES), theirs, strict=True):
            assert abs(a.mean - b.mean) < 0.02

    # a next round trained from this one's checkpoint is written with the GGUF beside it
    with ProjectStore.open(exported) as store:
        again = train_round(store, 1, tmp_path / "next", base=model, settings=settings)
    assert again.gguf is not None and again.gguf.path == tmp_path / "next" / "model-q8_0.gguf"
    assert again.run.details is not None
    assert again.run.details["gguf"]["metadata_from"] in {str(q8.path), str(result.gguf.path)}

    # a model trained in the user's template carries it to llama.cpp
    template = "{% for m in messages %}Q: {{ m.content }}\n{% endfor %}A:"
    templated = export_gguf(model, tiny, gguf_name(model, "f16"), "f16", chat_template=template)
    fields = gguf.GGUFReader(templated.path).fields
    assert fields["tokenizer.chat_template"].contents() == template


def test_the_command_says_where_the_gguf_is_or_why_there_is_none(
    exported: Path,  # noqa: F811 (the fixture)
    tiny: Path,
    tmp_path: Path,
):
    command = ("train", exported, "--base", tiny, "--epochs", "0.5")
    written = run(*command, "--out", tmp_path / "a")
    assert written.exit_code == 0, written.output
    assert f"For llama.cpp (`generate --model`, `eval --model`): {tmp_path / 'a'}" in " ".join(
        written.output.split()
    )
    written_gguf = tmp_path / "a" / "model-q8_0.gguf"
    assert written_gguf.is_file()
    # eval reads it with llama.cpp, or with transformers; `rounds` shows both
    for scorer in ("llama", "transformers"):
        evaluated = run("eval", exported, "--model", written_gguf, "--scorer", scorer)
        assert evaluated.exit_code == 0, evaluated.output
    [round_] = json.loads(run("rounds", exported, "--json").output)
    names = {e["model_name"]: e["details"]["scorer"] for e in round_["evals"]}
    assert names["model-q8_0"] == "llama"
    assert names["model-q8_0 (transformers)"] == "transformers"
    none = run(*command, "--out", tmp_path / "b", "--gguf", "none")
    assert none.exit_code == 0, none.output
    assert not list((tmp_path / "b").glob("*.gguf")) and "For llama.cpp" not in none.output


def test_a_checkpoint_that_does_not_fit_its_base_or_an_unknown_layout_is_refused(
    tiny: Path, tmp_path: Path
):
    other = tiny_checkpoint(tmp_path / "other", ["another vocabulary entirely"])
    with pytest.raises(GenerationError, match="not trained from that base"):
        export_gguf(other, tiny, tmp_path / "other.gguf")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["other"]  # nothing written

    bloom = tmp_path / "bloom.gguf"
    writer = gguf.GGUFWriter(bloom, "bloom")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(GenerationError, match="no GGUF export for the bloom") as refused:
        export_gguf(other, bloom, tmp_path / "other.gguf")
    assert "convert_hf_to_gguf.py" in str(refused.value)
