"""The bot process must stay light: no torch, no transformers, no renderer.

Data flows bot → db → generator; the bot only reads the generator's catalogues (styles, jam
roles, limits) and runs the arranger's light listening check at intake (SwiftF0 on onnxruntime,
numpy), so those modules — and only those — may be imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

#: the generator modules the bot may import: data and the listening check, no renderers
LIGHT_GENERATOR = {
    "generator",
    "generator.errors",
    "generator.settings",
    "generator.backends",
    "generator.backends.arranger",
    "generator.backends.arranger.analysis",
    "generator.backends.arranger.notes",
    "generator.backends.arranger.pitch",
    # numpy only: analysis (the listening check's module) reads rhythm with it (issue #10)
    "generator.backends.arranger.rhythm",
    # numpy only too: the metre model's features and fitted weights (analysis decides with it)
    "generator.backends.arranger.metre",
    "generator.backends.arranger.types",
    "generator.backends.arranger.styles",
    "generator.backends.arranger.styles._model",
    "generator.backends.arranger.styles.catalog",
    "generator.backends.arranger.styles.grooves",
}


def test_bot_entry_point_imports_no_torch_and_only_light_generator_modules() -> None:
    code = (
        "import json, sys\n"
        "import bot.app, humjam.cli\n"
        "for ext in bot.app.EXTENSIONS:\n"
        "    try:\n"
        "        __import__(ext)\n"
        "    except ModuleNotFoundError as exc:\n"
        "        if exc.name != ext: raise\n"
        "import bot.intake, bot.delivery, bot.jams\n"
        "from bot.intake import check_tune\n"
        "import audio, numpy as np\n"
        "t = np.arange(16000) / 16000\n"
        "clip = audio.Clip(np.sin(2 * np.pi * 440 * t).astype(np.float32) * 0.3, 16000)\n"
        "try:\n"
        "    check_tune(clip)\n"
        "except Exception:\n"
        "    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'generator', 'transformers', 'fluidsynth', 'pedalboard'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not {m for m in loaded if m.split(".")[0] != "generator"}  # no torch, no synth
    assert loaded <= LIGHT_GENERATOR, sorted(loaded - LIGHT_GENERATOR)
