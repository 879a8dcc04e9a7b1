"""Child process for the crash test: makes changes through AnnotationSession (the app's own
code path) forever, printing `WILL|ACK <tab> kind <tab> key <tab> value` before and after
each commit."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from dpo_tui.services.annotating import AnnotationSession
from dpo_tui.store.project import ProjectStore

WITH_CANDIDATES = [0, 1, 3]  # the fixture prompts that have candidates


def main(path: str, seed: int) -> None:
    rng = random.Random(seed)
    session = AnnotationSession(ProjectStore.open(Path(path)))
    item = session.open(rng.choice(WITH_CANDIDATES))
    counter = 0
    while True:
        if rng.random() < 0.2:
            item = session.open(rng.choice(WITH_CANDIDATES))
        counter += 1
        candidate = rng.choice(item.candidates).id
        if rng.random() < 0.15:
            text = f"diagnosis {seed}-{counter}"
            print(f"WILL\tdiag\t{item.prompt.id}\t{text}", flush=True)
            item = session.set_diagnosis(text)
            print(f"ACK\tdiag\t{item.prompt.id}\t{text}", flush=True)
            continue
        criterion = rng.choice(["clarity", "safety"])
        value = rng.randint(1, 3)
        print(f"WILL\tscore\t{candidate}:{criterion}\t{value}", flush=True)
        item = session.set_score(candidate, criterion, value)
        print(f"ACK\tscore\t{candidate}:{criterion}\t{value}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
