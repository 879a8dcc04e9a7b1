from importlinter.cli import lint_imports

from tests.conftest import REPO


def test_import_contracts_hold(monkeypatch):
    """Core and store never import textual, click or the CLI; core never imports storage."""
    monkeypatch.chdir(REPO)
    assert lint_imports() == 0
