"""User configuration: `config.toml` in the config folder (`$DPO_TUI_CONFIG` names a file)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from dpo_tui.errors import LocatedError


class ConfigError(LocatedError):
    """A configuration file that cannot be read or is not as documented."""


def config_path() -> Path:
    """`$DPO_TUI_CONFIG`, else `$XDG_CONFIG_HOME/dpo-tui/config.toml` (~/.config by default)."""
    if os.environ.get("DPO_TUI_CONFIG"):
        return Path(os.environ["DPO_TUI_CONFIG"]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "dpo-tui" / "config.toml"


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """The `[keymap]` table: binding id -> keys (comma-separated), e.g. next_item = "j,ctrl+n".
    A missing file is an empty keymap."""
    path = path or config_path()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"keymap"})
    if unknown:
        raise ConfigError(path, f"unknown table or key {unknown[0]!r} (known: keymap)")
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in keymap.items()
    ):
        raise ConfigError(path, 'keymap: each entry must be binding_id = "key[,key...]"')
    return dict(keymap)
