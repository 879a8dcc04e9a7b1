"""A trained Hugging Face checkpoint written back as a GGUF file for llama.cpp, when its base
model was a GGUF file.

transformers read the base GGUF for training (`training.prepare_base`): it dequantized the
tensors, renamed them (its `get_gguf_hf_weights_map`, over gguf-py's name tables) and undid,
per architecture, what llama.cpp's converter had done to them (its `TENSOR_PROCESSORS`: the
interleaved rotary rows of Llama's q/k projections, the +1 in Gemma's norm weights). This
module runs that in reverse: the base file's metadata and tokenizer are copied as they are, and
each of its tensors is replaced by the checkpoint's, renamed by the same map, with the same
processing redone, in float16 or Q8_0 (`gguf.quants`). Tensors the checkpoint does not hold are
copied from the base. Re-quantizing to the base's 4-bit types would erase a small fine-tune, so
it is not offered.

Written here because no installed library does it: llama.cpp's `convert_hf_to_gguf.py` ships
in neither the `gguf` nor the `llama-cpp-python` package, and, given a checkpoint that came from
a GGUF file, it would rebuild the tokenizer from Hugging Face files in another form.
torch, transformers and gguf are the `train` extra, imported here when an export starts.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dpo_tui.core.training import GGUF_TYPES, GgufType
from dpo_tui.errors import GenerationError
from dpo_tui.generation.hf_scorer import import_extra

Redo = Callable[[str, np.ndarray], np.ndarray]
"""llama.cpp's processing of one tensor (by its GGUF name), as transformers undoes it."""


@dataclass(frozen=True)
class GgufExport:
    """A GGUF file written from a checkpoint."""

    path: Path
    kind: GgufType
    tensors: int
    """Tensors written from the checkpoint (the others were copied from the base)."""
    copied: int
    seconds: float


def gguf_name(folder: Path, kind: GgufType) -> Path:
    """Where `train` writes the GGUF file of the checkpoint in `folder`: beside it."""
    return folder.parent / f"{folder.name}-{kind}.gguf"


def permute_rotary(weights: np.ndarray, heads: int) -> np.ndarray:
    """llama.cpp's order of the rows of a Llama q/k projection of `heads` heads (the key/value
    heads for k: `convert_hf_to_gguf.py`'s `LlamaModel.permute`), the inverse of transformers'
    `_reverse_permute_weights`."""
    shape = weights.shape
    pairs = weights.reshape(heads, 2, shape[0] // heads // 2, *shape[1:])
    return pairs.swapaxes(1, 2).reshape(shape)


def _redo(processor: str, config: Any) -> Redo | None:
    """The processing to redo for transformers' tensor processor `processor`; None when this
    module does not know how to undo that processor's work."""
    if processor == "TensorProcessor":
        return lambda _name, weights: weights
    if processor in ("Gemma2TensorProcessor", "NemotronTensorProcessor"):
        return lambda name, weights: weights + 1 if "norm.weight" in name else weights
    if processor == "LlamaTensorProcessor":
        heads = int(config.num_attention_heads)
        kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)

        def llama(name: str, weights: np.ndarray) -> np.ndarray:
            if ".attn_q." in name:
                return permute_rotary(weights, heads)
            if ".attn_k." in name:
                return permute_rotary(weights, kv_heads)
            return weights

        return llama
    return None


def _tensor_type(gguf: Any, name: str, weights: np.ndarray, kind: str) -> Any:
    """float32 for vectors and norms (as llama.cpp's converter keeps them), else the kind asked
    for; Q8_0 falls back to float16 for rows that are not whole blocks."""
    types = gguf.GGMLQuantizationType
    if weights.ndim < 2 or name.endswith("norm.weight"):
        return types.F32
    if kind == "q8_0" and weights.shape[-1] % gguf.GGML_QUANT_SIZES[types.Q8_0][0] == 0:
        return types.Q8_0
    return types.F16


def _encode(gguf: Any, weights: np.ndarray, tensor_type: Any) -> np.ndarray:
    types = gguf.GGMLQuantizationType
    if tensor_type == types.F32:
        return weights.astype(np.float32)
    if tensor_type == types.F16:
        return weights.astype(np.float16)
    return np.asarray(gguf.quants.quantize(weights.astype(np.float32), tensor_type))


def export_gguf(
    model_dir: Path,
    base_gguf: Path,
    path: Path,
    kind: GgufType = "q8_0",
    chat_template: str | None = None,
) -> GgufExport:
    """Write the checkpoint in `model_dir` as the GGUF file `path`, with the metadata and
    tokenizer of `base_gguf`, the file it was trained from (and `chat_template` instead of its
    template, if given); nothing is written before every tensor has its place. A
    GenerationError when the architecture is one this module cannot write back, or the
    checkpoint does not fit the base (another architecture, other shapes)."""
    if kind not in GGUF_TYPES:
        raise ValueError(f"unknown GGUF type {kind!r}")
    started = time.perf_counter()
    torch, transformers, gguf = (import_extra(name) for name in ("torch", "transformers", "gguf"))
    gguf_utils: Any = importlib.import_module("transformers.modeling_gguf_pytorch_utils")
    transformers.logging.disable_progress_bar()

    reader = gguf.GGUFReader(base_gguf)
    arch = str(reader.fields["general.architecture"].contents())
    model = transformers.AutoModelForCausalLM.from_pretrained(
        model_dir, local_files_only=True, dtype=torch.float32
    )
    processor = gguf_utils.TENSOR_PROCESSORS.get(arch, gguf_utils.TensorProcessor)
    redo = _redo(processor.__name__, model.config)
    if redo is None:
        raise GenerationError(
            f"{base_gguf}: no GGUF export for the {arch} architecture yet",
            hint=f"{model_dir} is a Hugging Face checkpoint: llama.cpp's convert_hf_to_gguf.py "
            "converts it",
        )
    try:  # named as the base's architecture names them
        names = gguf_utils.get_gguf_hf_weights_map(model, processor(config={}), model_type=arch)
    except NotImplementedError as error:
        raise GenerationError(f"{base_gguf}: {error}") from None
    state = {key: value.detach() for key, value in model.state_dict().items()}
    checkpoint = _Checkpoint(state, names, redo)
    written, copied = _write(gguf, reader, checkpoint, kind, chat_template, path)
    return GgufExport(path, kind, written, copied, time.perf_counter() - started)


@dataclass(frozen=True)
class _Checkpoint:
    """The trained tensors by name, their GGUF names, and the processing to redo."""

    state: dict[str, Any]
    names: dict[str, str]
    """GGUF tensor name to the checkpoint's name."""
    redo: Redo


def _write(
    gguf: Any,
    reader: Any,
    checkpoint: _Checkpoint,
    kind: GgufType,
    chat_template: str | None,
    path: Path,
) -> tuple[int, int]:
    """Write `path`: the base's metadata, then each base tensor from `state` (or copied)."""
    state, names, redo = checkpoint.state, checkpoint.names, checkpoint.redo
    writer = gguf.GGUFWriter(path, str(reader.fields["general.architecture"].contents()))
    file_type = gguf.LlamaFileType.MOSTLY_Q8_0 if kind == "q8_0" else gguf.LlamaFileType.MOSTLY_F16
    replaced = {gguf.Keys.General.ARCHITECTURE, gguf.Keys.General.FILE_TYPE}
    if chat_template is not None:
        replaced.add(gguf.Keys.Tokenizer.CHAT_TEMPLATE)
        writer.add_chat_template(chat_template)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in replaced:
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)
    writer.add_file_type(int(file_type))
    used: set[str] = set()
    written = copied = 0
    for tensor in reader.tensors:
        key = names.get(tensor.name)
        if key is None or key not in state:
            writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
            copied += 1
            continue
        weights = redo(tensor.name, state[key].numpy())
        expected = tuple(int(n) for n in reversed(tensor.shape.tolist()))
        if weights.shape != expected:
            raise GenerationError(
                f"{tensor.name}: the checkpoint's {key} has shape {tuple(weights.shape)}, the base "
                f"GGUF's {expected}: this checkpoint was not trained from that base"
            )
        tensor_type = _tensor_type(gguf, tensor.name, weights, kind)
        writer.add_tensor(tensor.name, _encode(gguf, weights, tensor_type), raw_dtype=tensor_type)
        used.add(key)
        written += 1
    _check_all_used(state, used)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return written, copied


def _check_all_used(state: dict[str, Any], used: set[str]) -> None:
    """A GenerationError when a trained tensor has no place in the base GGUF (one tied to a
    written tensor, as an output layer shares the embeddings, has its place)."""
    placed = {state[key].data_ptr() for key in used}
    left = sorted(key for key in state if key not in used and state[key].data_ptr() not in placed)
    if left:
        raise GenerationError(
            f"the checkpoint's {', '.join(left[:3])} ha{'s' if len(left) == 1 else 've'} no "
            "place in the base GGUF: it was not trained from that base"
        )
