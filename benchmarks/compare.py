"""Compare two saved benchmark runs: `python benchmarks/compare.py A.json B.json`.

Prints each figure the two share, A and B, and B / A, marked better or worse by the figure's
own direction; and the machine facts that differ (times from two machines do not compare).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    args = parser.parse_args()
    a, b = (json.loads(p.read_text(encoding="utf-8")) for p in (args.first, args.second))
    if a["benchmark"] != b["benchmark"]:
        parser.error(f"two different benchmarks: {a['benchmark']} and {b['benchmark']}")
    print(f"{a['benchmark']}: A = {args.first.name}, B = {args.second.name}")
    for key in sorted(a["machine"].keys() | b["machine"].keys()):
        first, second = a["machine"].get(key), b["machine"].get(key)
        if first != second:
            print(f"  {key}: A {first}, B {second}")
    print(f"{'figure':<44} {'A':>12} {'B':>12} {'B / A':>8}")
    for key, fa in a["figures"].items():
        fb = b["figures"].get(key)
        if fb is None:
            continue
        ratio = fb["value"] / fa["value"] if fa["value"] else float("nan")
        lower = fa.get("better", "lower") == "lower"
        verdict = "" if ratio == 1 else ("better" if (ratio < 1) == lower else "worse")
        unit = fa["unit"]
        print(
            f"{key:<44} {fa['value']:>10.4g} {unit:<1} {fb['value']:>10.4g} {unit:<1} "
            f"{ratio:>7.2f}x {verdict}"
        )


if __name__ == "__main__":
    main()
