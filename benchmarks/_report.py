"""Shared by the benchmark scripts: rewrite one "## <title>" section of BENCHMARKS.md in place."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, title: str, section: str) -> None:
    """Replace (or append) the section headed ``## {title}``, leaving the others alone."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = text.splitlines(keepends=True)
    heading = f"## {title}"
    start = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    if start is None:
        path.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rest = "\n" + "".join(lines[end:]) if end < len(lines) else ""
    path.write_text("".join(lines[:start]) + section + rest)
