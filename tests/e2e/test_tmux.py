"""The annotator in a real terminal: tmux runs it, send-keys types, capture-pane reads."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dpo_tui.store.project import ProjectStore

pytestmark = pytest.mark.slow


class Tmux:
    def __init__(self, socket: str) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is required for the terminal tests (apt-get install tmux)")
        self.base = ["tmux", "-L", socket]

    def __call__(self, *args: str) -> str:
        # The environment passed explicitly: under pytest the process's C environment holds
        # COLUMNS=80 and LINES=24 (not in os.environ), which the tmux server would hand to the
        # app, drawing it at 80x24 whatever the window's size (seen: the 200x50 case at 80x24).
        environment = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES"}}
        return subprocess.run(
            [*self.base, *args], capture_output=True, text=True, check=True, env=environment
        ).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared on screen:\n{self.screen()}")

    def keys(self, *keys: str, pause: float = 0.3) -> None:
        self("send-keys", "-t", "app", *keys)
        time.sleep(pause)


@pytest.fixture
def tmux(tmp_path: Path):
    terminal = Tmux(f"dpo-tui-test-{tmp_path.name}")
    yield terminal
    subprocess.run([*terminal.base, "kill-server"], capture_output=True)


@pytest.mark.parametrize("size", [(80, 24), (200, 50)])
def test_score_two_items_and_quit_in_a_real_terminal(tmux: Tmux, app_project: Path, size):
    width, height = size
    command = f"{sys.executable} -m dpo_tui annotate {app_project}"
    tmux("new-session", "-d", "-s", "app", "-x", str(width), "-y", str(height), command)
    tmux.wait_for("0/3 done")
    if width > 100:  # past the 80-column line's end otherwise
        tmux.wait_for("filter: all · 1 prompt waits for candidates")
    tmux.keys(*"535323")
    tmux.keys("d")
    tmux.keys("A is warm and asks for the order number.")
    tmux.keys("Escape", pause=0.6)
    shown = tmux.wait_for("pair: A > C")
    assert "1/3 done" in shown
    assert "✓ chosen" in shown
    tmux.keys("n")
    tmux.wait_for("#2 ·")
    tmux.keys(*"4231")
    tmux.keys("t")
    shown = tmux.wait_for("2/3 done")
    assert "no pair: flagged tie" in shown
    tmux.keys("q", pause=1.0)
    with ProjectStore.open(app_project) as store:
        first, second = list(store.prompts())[:2]
        assert len(store.scores(first.id, "alice")) == 3
        assert sorted(store.scores(second.id, "alice").values(), key=str) == [
            {"clarity": 3, "safety": 1},
            {"clarity": 4, "safety": 2},
        ]
        assert store.judgement(first.id, "alice").diagnosis == (
            "A is warm and asks for the order number."
        )
        assert store.judgement(second.id, "alice").flags == ("tie",)


def test_suggest_shows_the_judges_marker_and_j_takes_it(tmux: Tmux, app_project: Path):
    from tests.services.test_annotating_suggest import CARDS, judge_first_prompt

    with ProjectStore.open(app_project) as store:
        ids = judge_first_prompt(store)
    command = f"{sys.executable} -m dpo_tui annotate {app_project} --suggest"
    tmux("new-session", "-d", "-s", "app", "-x", "160", "-y", "45", command)
    shown = tmux.wait_for("(judge 4)")
    assert "◇" in shown and "judge: cites the refund policy" in shown
    tmux.keys("J")
    tmux.wait_for("◆")
    tmux.keys("q", pause=1.0)
    with ProjectStore.open(app_project) as store:
        pid = store.prompt_ids_in_order()[0]
        [(taken, card)] = store.scores(pid, "alice").items()
        assert card == CARDS[ids.index(taken)]
        assert store.judgement(pid, "alice").suggested
