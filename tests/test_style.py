"""The code's own checks, run as tests: ruff, mypy --strict, and modules short enough to read."""

import subprocess
import sys

import pytest

from tests.conftest import REPO

MAX_MODULE_LINES = 500


def test_ruff_check_and_format_are_clean():
    for args in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=REPO, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict_passes():
    """`[tool.mypy]` in pyproject.toml: strict, over dpo_tui/; every ignore names its code."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_is_longer_than_500_lines():
    long = {
        str(path.relative_to(REPO)): lines
        for path in (REPO / "dpo_tui").rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"split these modules by what they hold: {long}"


def test_every_type_ignore_is_narrow():
    """No bare `# type: ignore`: each names the error code it silences."""
    bare = [
        f"{path.relative_to(REPO)}:{number}"
        for path in (REPO / "dpo_tui").rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "# type: ignore" in line and "# type: ignore[" not in line
    ]
    assert bare == []
