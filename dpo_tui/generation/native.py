"""What this install's llama.cpp is and can do on this machine, and the one choice made from it:
whether model weights may go into llama.cpp's extra CPU buffer types.

Extra buffer types are how llama.cpp repacks weights for faster CPU kernels: the AMX buffer on
Intel CPUs with AMX (Sapphire Rapids and later) and the CPU "repack" buffers (interleaved Q4_0,
IQ4_NL and Q4_K blocks for AVX2/AVX-512 and ARM). llama-cpp-python builds llama.cpp for the
CPU it is built on, so on an AMX CPU the AMX kernel is compiled in and used; on Q4_K weights
it crashes the process (SIGSEGV in `ggml_backend_amx_mul_mat`; llama.cpp issue 20824). Loading
with `use_extra_bufts = false` avoids it, at the cost of the repack speed-up elsewhere; llama.cpp
offers no switch for AMX alone. So `auto` turns extra buffer types off exactly when llama.cpp
reports AMX (`AMX_INT8 = 1` in its system info), and keeps them on otherwise: the benchmark
`benchmarks/generation.py --repack on|off` measures what they are worth on a given CPU.
"""

from __future__ import annotations

import ctypes
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from dpo_tui.config import RepackSetting, load_config
from dpo_tui.generation.runtime import llama_cpp


@dataclass(frozen=True)
class RepackChoice:
    """Whether extra buffer types are used, from which setting, and why (for `doctor`)."""

    setting: RepackSetting
    extra_buffers: bool
    reason: str


def system_info() -> str:
    """llama.cpp's own account of its build: one `BACKEND : FEATURE = value | ...` group per
    backend compiled in (e.g. `CPU : SSE3 = 1 | AVX2 = 1 | ... | AMX_INT8 = 1 | OPENMP = 1 |`)."""
    return bytes(llama_cpp.llama_print_system_info()).decode("utf-8", "replace").strip()


def backend_features(info: str) -> dict[str, dict[str, str]]:
    """`system_info()` read as backend name -> {feature: value}, in its order."""
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for part in (p.strip() for p in info.split("|")):
        if not part:
            continue
        head = re.fullmatch(r"([A-Za-z0-9_.\- ]+?)\s*:\s*(.*)", part)
        if head and "=" not in head.group(1):
            current = found.setdefault(head.group(1).strip(), {})
            part = head.group(2)
        if current is not None and "=" in part:
            key, _, value = part.partition("=")
            current[key.strip()] = value.strip()
    return found


def reports_amx(info: str) -> bool:
    """Whether llama.cpp says it uses AMX on this CPU."""
    return any(
        key.startswith("AMX") and value not in {"", "0"}
        for features in backend_features(info).values()
        for key, value in features.items()
    )


def choose_repack(setting: RepackSetting | None = None, info: str | None = None) -> RepackChoice:
    """Extra buffer types on or off for `setting` (None: the config file's, else auto);
    `auto` reads llama.cpp's system info."""
    if setting is None:
        setting = load_config().repack
    if setting == "on":
        return RepackChoice(setting, True, "repack on, as set (--repack or config)")
    if setting == "off":
        return RepackChoice(setting, False, "repack off, as set (--repack or config)")
    if reports_amx(system_info() if info is None else info):
        return RepackChoice(
            setting,
            False,
            "this CPU has AMX, whose llama.cpp kernel crashes on quantized weights "
            "(llama.cpp issue 20824): extra buffer types (AMX, CPU repack) are off",
        )
    return RepackChoice(
        setting, True, "no AMX reported by llama.cpp: CPU repack (faster kernels) is on"
    )


def apply_to_llama_class(choice: RepackChoice | None = None) -> None:
    """Make `llama_cpp.Llama` (llama-cpp-python's own class, which has no setting for it) load
    weights with or without extra buffer types as `choice` says (default: `choose_repack()`),
    from now on in this process. For code that runs llama-cpp-python's classes rather than
    `LoadedModel`: its OpenAI-compatible server started by the tests, the benchmarks'
    baselines. `Llama` reads `llama_model_default_params` from `llama_cpp.llama_cpp`, so that
    one function is wrapped there; dpo-tui's own loading does not go through it."""
    choice = choice or choose_repack()
    low_level = llama_cpp.llama_cpp
    original = getattr(low_level, "_dpo_tui_default_params", low_level.llama_model_default_params)

    def default_params() -> llama_cpp.llama_model_params:
        params: llama_cpp.llama_model_params = original()
        params.use_extra_bufts = choice.extra_buffers
        return params

    setattr(low_level, "_dpo_tui_default_params", original)  # noqa: B010 (not an attribute it has)
    low_level.llama_model_default_params = default_params


def gpu_offload_supported() -> bool:
    """Whether this llama.cpp build can offload layers to a GPU (CUDA, Metal, Vulkan, ...)."""
    return bool(llama_cpp.llama_supports_gpu_offload())


@dataclass(frozen=True)
class Device:
    """A device llama.cpp can compute on (a GPU, the CPU, ...)."""

    name: str
    description: str
    memory_total: int


def devices() -> list[Device]:
    """The devices of every backend compiled in, as ggml lists them; empty if ggml's registry
    cannot be reached from Python (llama-cpp-python does not bind it, so it is read with
    ctypes from the `ggml` library it ships)."""
    library = _ggml_library()
    if library is None:
        return []
    found = []
    free, total = ctypes.c_size_t(), ctypes.c_size_t()
    for index in range(library.ggml_backend_dev_count()):
        device = library.ggml_backend_dev_get(index)
        library.ggml_backend_dev_memory(device, ctypes.byref(free), ctypes.byref(total))
        found.append(
            Device(
                name=_text(library.ggml_backend_dev_name(device)),
                description=_text(library.ggml_backend_dev_description(device)),
                memory_total=total.value,
            )
        )
    return found


def _text(value: bytes | None) -> str:
    return (value or b"").decode("utf-8", "replace")


def _ggml_library() -> ctypes.CDLL | None:
    folder = Path(llama_cpp.__file__).parent / "lib"
    for name in ("libggml.so", "libggml.dylib", "ggml.dll"):
        path = folder / name
        if not path.is_file():
            continue
        try:
            library = ctypes.CDLL(str(path))
            library.ggml_backend_dev_count.restype = ctypes.c_size_t
            library.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
            library.ggml_backend_dev_get.restype = ctypes.c_void_p
            for getter in ("ggml_backend_dev_name", "ggml_backend_dev_description"):
                getattr(library, getter).argtypes = [ctypes.c_void_p]
                getattr(library, getter).restype = ctypes.c_char_p
            library.ggml_backend_dev_memory.argtypes = [
                ctypes.c_void_p,
                ctypes.POINTER(ctypes.c_size_t),
                ctypes.POINTER(ctypes.c_size_t),
            ]
            library.ggml_backend_dev_memory.restype = None
        except (OSError, AttributeError):
            return None
        return library
    return None


def cpu_description() -> tuple[str, str]:
    """The CPU's model name and its feature flags (Linux: /proc/cpuinfo; elsewhere what
    `platform` knows), which decide which llama.cpp kernels run."""
    model, flags = platform.processor() or platform.machine(), ""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return model, flags
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    model = fields.get("model name") or fields.get("cpu model") or fields.get("hardware") or model
    flags = fields.get("flags") or fields.get("features") or ""
    return model, " ".join(sorted(flags.split()))


GPU_BUILD_COMMANDS = {
    "cuda": 'CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall --no-cache-dir '
    "--no-deps llama-cpp-python=={version}",
    "metal": 'CMAKE_ARGS="-DGGML_METAL=on" pip install --force-reinstall --no-cache-dir '
    "--no-deps llama-cpp-python=={version}",
    "vulkan": 'CMAKE_ARGS="-DGGML_VULKAN=on" pip install --force-reinstall --no-cache-dir '
    "--no-deps llama-cpp-python=={version}",
}
"""How to rebuild llama-cpp-python (this version) with a GPU backend, by GPU kind."""


def gpu_build_command(kind: str) -> str:
    """The command that rebuilds this llama-cpp-python with GPU `kind` (cuda, metal, vulkan)."""
    return GPU_BUILD_COMMANDS[kind].format(version=llama_cpp.__version__)


def likely_gpu() -> str | None:
    """The GPU kind this machine seems to have (cuda for an NVIDIA driver, metal on Apple
    silicon), or None; a hint for `doctor`, not a promise that a build would work."""
    if Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidiactl").exists():
        return "cuda"
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return "metal"
    return None
