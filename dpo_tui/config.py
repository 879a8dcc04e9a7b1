"""User configuration: `config.toml` in the config folder (`$DPO_TUI_CONFIG` names a file).

```toml
[keymap]            # binding id -> keys, comma-separated
next_item = "j,ctrl+n"

[generation]
repack = "auto"     # llama.cpp's extra CPU buffer types: auto, on or off (see `doctor`)
```
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast, get_args

from dpo_tui.core.bounded import MAX_TOML_BYTES, BoundsError, toml_document
from dpo_tui.errors import LocatedError

RepackSetting = Literal["auto", "on", "off"]
"""llama.cpp's extra CPU buffer types (weight repacking): chosen per CPU, or forced."""

REPACK_VALUES: tuple[str, ...] = get_args(RepackSetting)


class ConfigError(LocatedError):
    """A configuration file that cannot be read or is not as documented."""


@dataclass(frozen=True)
class Config:
    """What a config file sets; a missing file sets nothing."""

    keymap: dict[str, str] = field(default_factory=dict)
    repack: RepackSetting = "auto"


def config_path() -> Path:
    """`$DPO_TUI_CONFIG`, else `$XDG_CONFIG_HOME/dpo-tui/config.toml` (~/.config by default)."""
    if os.environ.get("DPO_TUI_CONFIG"):
        return Path(os.environ["DPO_TUI_CONFIG"]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "dpo-tui" / "config.toml"


def load_config(path: Path | None = None) -> Config:
    """The config file at `path` (default: `config_path()`), checked key by key."""
    if path is not None and not path.is_file():  # named on the command line: must be there
        raise ConfigError(path, "not found, or not a regular file")
    path = path or config_path()
    if not path.is_file():
        return Config()
    try:
        if path.stat().st_size > MAX_TOML_BYTES:
            raise ConfigError(path, f"larger than the {MAX_TOML_BYTES:,} bytes a config may be")
        data = toml_document(path.read_text(encoding="utf-8"))
    except BoundsError as exc:
        raise ConfigError(path, f"not accepted: {exc.problem}", line=exc.line) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(path, f"cannot be read: {exc.strerror or exc}") from None
    unknown = sorted(set(data) - {"keymap", "generation"})
    if unknown:
        raise ConfigError(path, f"unknown table or key {unknown[0]!r} (known: keymap, generation)")
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in keymap.items()
    ):
        raise ConfigError(path, 'keymap: each entry must be binding_id = "key[,key...]"')
    generation = data.get("generation", {})
    if not isinstance(generation, dict):
        raise ConfigError(path, "generation: must be a table")
    unknown = sorted(set(generation) - {"repack"})
    if unknown:
        raise ConfigError(path, f"generation: unknown key {unknown[0]!r} (known: repack)")
    repack = generation.get("repack", "auto")
    if repack not in REPACK_VALUES:
        raise ConfigError(path, f"generation.repack: must be one of {', '.join(REPACK_VALUES)}")
    return Config(keymap=dict(keymap), repack=cast(RepackSetting, repack))


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """The `[keymap]` table: binding id -> keys (comma-separated), e.g. next_item = "j,ctrl+n"."""
    return load_config(path).keymap
