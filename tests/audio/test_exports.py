"""The package's public surface, and that importing it stays light enough for the bot."""

from __future__ import annotations

import subprocess
import sys

import audio


def test_all_names_resolve() -> None:
    for name in audio.__all__:
        assert getattr(audio, name) is not None, name


def test_import_is_light() -> None:
    # The bot imports `audio` to probe uploads: no torch, and SciPy only once prepare_hum is used.
    code = (
        "import sys, audio; "
        "assert 'torch' not in sys.modules; assert 'scipy.signal' not in sys.modules; "
        "audio.prepare_hum; assert 'scipy.signal' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
