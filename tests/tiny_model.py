"""A tiny Hugging Face checkpoint built in a test: a byte-level BPE tokenizer trained on some
text and a 2-layer Llama with random weights, saved with save_pretrained (about a second)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dpo_tui.generation.templates import DEFAULT_TEMPLATE


def tiny_checkpoint(
    folder: Path, texts: Iterable[str], *, chat_template: str | None = None, seed: int = 0
) -> Path:
    """Write a checkpoint to `folder` (created): a tokenizer trained on `texts` (and the
    default template's words) that puts `<bos>` first, and a LlamaForCausalLM."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(
        [*texts, DEFAULT_TEMPLATE],
        trainers.BpeTrainer(
            vocab_size=512,
            special_tokens=["<pad>", "<eos>", "<bos>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", tokenizer.token_to_id("<bos>"))]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>"
    )
    if chat_template is not None:
        fast.chat_template = chat_template
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def tiny_gguf(folder: Path, path: Path) -> Path:
    """Write the checkpoint `tiny_checkpoint` wrote in `folder` as a float32 GGUF file at `path`,
    as llama.cpp's converter writes a Llama with a byte-level BPE vocabulary: llama.cpp's names,
    the rotary rows of q/k interleaved, the vocabulary with its merges."""
    import json

    import gguf
    import safetensors.numpy
    from transformers import LlamaConfig

    from dpo_tui.generation.gguf_export import permute_rotary

    config = LlamaConfig.from_pretrained(folder)
    vocab = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    tokens = sorted(vocab["model"]["vocab"], key=vocab["model"]["vocab"].__getitem__)
    special = {token["content"] for token in vocab["added_tokens"]}
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(config.rope_parameters["rope_theta"])
    writer.add_file_type(int(gguf.LlamaFileType.ALL_F32))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(
        [gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in tokens]
    )
    writer.add_token_merges([" ".join(m) for m in vocab["model"]["merges"]])
    writer.add_bos_token_id(config.bos_token_id)
    writer.add_eos_token_id(config.eos_token_id)
    writer.add_pad_token_id(config.pad_token_id)
    writer.add_add_bos_token(True)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    weights = safetensors.numpy.load_file(str(folder / "model.safetensors"))
    for key, tensor in sorted(weights.items()):
        name = names.get_name(key.removesuffix(".weight")) + ".weight"
        if ".attn_q." in name:
            tensor = permute_rotary(tensor, config.num_attention_heads)
        elif ".attn_k." in name:
            tensor = permute_rotary(tensor, config.num_key_value_heads)
        writer.add_tensor(name, tensor.astype("float32"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
