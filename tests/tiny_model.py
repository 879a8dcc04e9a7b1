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
