"""``humjam generate`` as a whole process: time to its first line, and to a finished 20 s track.

Runs ``humjam generate <bundled hum> -d 20`` (the arranger) several times and prints a table of
min / median wall time to the first output line and to exit, plus the process's CPU time (user
+ system: less sensitive to a busy machine than wall time). ``--before REF`` also runs the
tree of git ref REF (exported to a temporary folder, same virtualenv), alternating with this
tree run by run, so both see the same load. Both trees are byte-compiled first (as an
installed copy is). ``--importtime`` lists the slowest imports of one
run (``python -X importtime``).

    .venv/bin/python benchmarks/startup.py [--runs 5] [--duration 20] [--before main] [--importtime]
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


def one_run(tree: Path, duration: float, out: Path) -> tuple[float, float, float]:
    """(seconds to the first output line, seconds to exit, CPU seconds) of one generate run
    from ``tree`` (``python -m`` puts the working folder first on the path, so its packages
    win over the virtualenv's editable install)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "humjam", "generate", str(HUM), "-d", str(duration), "-o",
         str(out)],
        cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.readline()
    first = time.perf_counter() - started
    proc.stdout.read()
    if proc.wait() != 0:
        raise RuntimeError(f"humjam generate failed in {tree}")
    total = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return first, total, cpu


def export(ref: str, into: Path) -> Path:
    """The files of git ref ``ref`` in ``into`` (``git archive``: no worktree to clean up)."""
    tree = into / "tree"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def compile_bytecode(tree: Path) -> None:
    """Byte-compile the tree's packages, as ``pip install`` does: with PYTHONDONTWRITEBYTECODE
    set (the dev shell, the Dockerfile) an editable checkout would otherwise compile its ~45
    modules from source on every run, which no installed copy does."""
    packages = [p.name for p in tree.iterdir() if (p / "__init__.py").is_file()]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], cwd=tree, check=True)


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
    p.add_argument("--before", metavar="REF", help="git ref to alternate with, e.g. main")
    p.add_argument("--importtime", action="store_true")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        trees = {"this tree": ROOT}
        if a.before:
            trees = {f"before ({a.before})": export(a.before, Path(scratch)), **trees}
        results: dict[str, list[tuple[float, float, float]]] = {label: [] for label in trees}
        out = Path(scratch) / "out"
        loads = [os.getloadavg()[0]]
        for tree in trees.values():
            compile_bytecode(tree)
            one_run(tree, a.duration, out)  # warm the page cache
        for _ in range(a.runs):
            for label, tree in trees.items():
                results[label].append(one_run(tree, a.duration, out))
            loads.append(os.getloadavg()[0])
    print(f"\nhumjam generate <demo hum> -d {a.duration:g} (arranger), {a.runs} runs each"
          f"{', alternated' if a.before else ''}, {os.cpu_count()} CPUs, load average "
          f"{min(loads):.1f}–{max(loads):.1f}")  # fmt: skip
    print("| seconds (min / median) | first output line | whole process (wall) | CPU (user+sys) |")
    print("|---|---|---|---|")
    for label, rows in results.items():
        cells = [
            f"{min(col):.2f} / {statistics.median(col):.2f}"
            for col in ([r[i] for r in rows] for i in range(3))
        ]
        print(f"| {label} | {' | '.join(cells)} |")
    if a.importtime:
        print("\nslowest top-level imports of one run (cumulative s):")
        for seconds, name in slowest_imports():
            print(f"  {seconds:6.3f}  {name}")


if __name__ == "__main__":
    main()
