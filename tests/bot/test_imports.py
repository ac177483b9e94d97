"""The bot process must stay light: no torch, no generator (data flows bot → db → generator)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bot_entry_point_imports_neither_torch_nor_generator() -> None:
    code = (
        "import json, sys\n"
        "import bot.app, humjam.cli\n"
        "for ext in bot.app.EXTENSIONS:\n"
        "    try:\n"
        "        __import__(ext)\n"
        "    except ModuleNotFoundError as exc:\n"
        "        if exc.name != ext: raise\n"
        "import bot.intake, bot.cogs.delivery\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'generator', 'transformers'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
