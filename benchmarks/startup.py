"""``humjam generate`` as a whole process: time to its first line, and to a finished 20 s track.

Runs ``humjam generate <bundled hum> -d 20`` (the arranger) several times and prints a table of
min / median wall time to the first output line and to exit, plus the process's CPU time (user
+ system: less sensitive to a busy machine than wall time). ``--importtime`` also lists the
slowest imports of one run (``python -X importtime``).

    .venv/bin/python benchmarks/startup.py [--runs 5] [--duration 20] [--importtime]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HUM = ROOT / "generator" / "assets" / "demo_hum.ogg"


def one_run(duration: float, out: Path) -> tuple[float, float, float]:
    """(seconds to the first output line, seconds to exit, CPU seconds) of one generate."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "humjam", "generate", str(HUM), "-d", str(duration), "-o",
         str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.readline()
    first = time.perf_counter() - started
    proc.stdout.read()
    if proc.wait() != 0:
        raise RuntimeError("humjam generate failed")
    total = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return first, total, cpu


def slowest_imports(n: int = 12) -> list[tuple[float, str]]:
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "humjam", "generate", str(HUM), "-d", "20",
             "-o", out],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
    rows = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit() and not name.startswith("   "):
                rows.append((int(cumulative) / 1e6, name.strip()))
    return sorted(rows, reverse=True)[:n]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--duration", type=float, default=20.0)
    p.add_argument("--importtime", action="store_true")
    a = p.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as out:
        one_run(a.duration, Path(out))  # warm the page cache
        for _ in range(a.runs):
            results.append(one_run(a.duration, Path(out)))
    load = os.getloadavg()[0]
    print(f"\nhumjam generate <demo hum> -d {a.duration:g} (arranger), {a.runs} runs, "
          f"{os.cpu_count()} CPUs, load average {load:.1f}")  # fmt: skip
    print("| seconds | min | median |")
    print("|---|---|---|")
    for i, label in enumerate(("first output line", "whole process (wall)", "CPU (user+sys)")):
        col = [r[i] for r in results]
        print(f"| {label} | {min(col):.2f} | {statistics.median(col):.2f} |")
    if a.importtime:
        print("\nslowest top-level imports of one run (cumulative s):")
        for seconds, name in slowest_imports():
            print(f"  {seconds:6.3f}  {name}")


if __name__ == "__main__":
    main()
