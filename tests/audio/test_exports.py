"""The package's public surface, and that importing it stays light enough for the bot."""

from __future__ import annotations

import subprocess
import sys

import audio


def test_all_names_resolve() -> None:
    for name in audio.__all__:
        assert getattr(audio, name) is not None, name


def test_import_is_light() -> None:
    # The bot imports `audio` to probe uploads: no torch. Preparing a hum needs no SciPy
    # (``audio.dsp``): importing scipy.signal would cost half a second of every generate.
    code = (
        "import sys, numpy as np, audio; "
        "assert 'torch' not in sys.modules; "
        "t = np.arange(22050 * 2) / 22050; "
        "x = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32); "
        "audio.prepare_hum(audio.Clip(samples=x, sample_rate=48000)); "
        "assert 'scipy' not in sys.modules, sorted(m for m in sys.modules if 'scipy' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
