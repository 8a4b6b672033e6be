"""How long the README's test command takes: ``python -m pytest -q`` (the fast suite), timed once.

    python benchmarks/test_timing.py [--out benchmarks/results/test_timing.json]

Writes the wall time, pytest's summary line, the date and the machine; the README's quick start quotes it.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 180  # the fast suite's speed target (issue 33): what is slower goes to -m slow, where CI runs it


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "test_timing.json"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=25"], cwd=REPO,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    summary = [line for line in p.stdout.splitlines() if " passed" in line or " failed" in line][-1:]
    from edgetl.bench.fingerprint import machine_info

    git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True, cwd=REPO).stdout.strip()  # noqa: E731
    doc = {"script": "benchmarks/test_timing.py", "date": time.strftime("%Y-%m-%d"), "machine": machine_info(),
           "commit": git("rev-parse", "--short", "HEAD"),
           "edgetl_modified_since_commit": bool(git("status", "--porcelain", "--untracked-files=no", "--", "edgetl",
                                                    "tests")),
           "command": "python -m pytest -q", "exit_code": p.returncode, "wall_s": round(wall, 1),
           "target_s": TARGET_S, "within_target": wall <= TARGET_S,
           "summary": summary[0].strip("= ") if summary else "",
           "slowest": [line.strip() for line in p.stdout.splitlines() if re.match(r"^\s*[0-9.]+s (call|setup|teardown) ", line)]}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc))
    if wall > TARGET_S:
        sys.exit(f"the fast suite took {wall:.0f} s, over its {TARGET_S} s target: mark what is slow (pyproject.toml)")


if __name__ == "__main__":
    main()
