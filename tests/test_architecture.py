from importlinter.cli import lint_imports

from tests.conftest import REPO


def test_import_contracts_hold(monkeypatch):
    """The layers contract (cli > tui > render > services > generation | store > core), nothing
    below the UI imports Textual or click, core never imports storage (pyproject.toml)."""
    monkeypatch.chdir(REPO)
    assert lint_imports() == 0
