"""Cogs don't reach into each other (issue #12, point 9): what they share is a service the bot
owns (``bot.delivery``, ``bot.jams``), never another cog or its private members."""

from __future__ import annotations

import ast
from pathlib import Path

import bot.cogs

COGS = sorted(Path(bot.cogs.__file__).parent.glob("*.py"))


def test_no_cog_looks_up_another_cog_or_its_privates() -> None:
    problems = []
    for path in COGS:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "get_cog":
                problems.append(f"{path.name}:{node.lineno}: get_cog")
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                problems.append(f"{path.name}:{node.lineno}: reaches into .{node.attr}")
    assert not problems, problems
