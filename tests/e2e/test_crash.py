"""kill -9 at random moments: every acknowledged change is in the file, and it is intact."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dpo_tui.store.project import ProjectStore
from tests.conftest import REPO

pytestmark = pytest.mark.slow
RUNS = 30


def test_kill_9_never_loses_an_acknowledged_change(app_project: Path):
    rng = random.Random(7)
    child = Path(__file__).with_name("crash_child.py")
    # key -> the last acknowledged value, and values announced (WILL) since that ACK
    acked: dict[tuple[str, str], str] = {}
    pending: dict[tuple[str, str], set[str]] = {}
    for run in range(RUNS):
        process = subprocess.Popen(
            [sys.executable, str(child), str(app_project), str(run)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        assert process.stdout is not None
        stop_after = rng.randint(1, 40)
        acks = 0
        for line in process.stdout:
            verb, kind, name, value = line.rstrip("\n").split("\t")
            key = (kind, name)
            if verb == "WILL":
                pending.setdefault(key, set()).add(value)
            else:
                acked[key] = value
                pending[key] = set()
                acks += 1
                if acks >= stop_after:
                    break
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL
    conn = sqlite3.connect(app_project)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    with ProjectStore.open(app_project) as store:
        for key, value in acked.items():
            allowed = {value} | pending.get(key, set())
            if key[0] == "score":
                candidate, criterion = key[1].split(":")
                row = store.db.execute(
                    "select criteria ->> ? from scores where candidate_id = ?",
                    [f"$.{criterion}", candidate],
                ).fetchone()
                assert row is not None and str(row[0]) in allowed, (key, row, allowed)
            else:
                judgement = store.judgement(key[1], "alice")
                assert judgement is not None and judgement.diagnosis in allowed, key
    assert len(acked) > 10
