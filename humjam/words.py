"""Wording shared by the CLI and the bot (plain Python: the bot never imports ``generator``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def tempo_octave(meta: Mapping[str, Any]) -> str:
    """ "half-time of the hum's 126 bpm" when a style counts the hum's beat at another octave
    (the piano roll shows the hum's own reading), else "": without it a user who hummed at 126
    sees 63 and thinks the tempo was misheard."""
    bpm, hum_bpm = meta.get("bpm"), meta.get("hum_bpm")
    if not isinstance(bpm, int | float) or not isinstance(hum_bpm, int | float):
        return ""
    if bpm <= 0 or hum_bpm <= 0:
        return ""
    ratio = float(bpm) / float(hum_bpm)
    for factor, name in ((0.5, "half-time"), (2.0, "double-time")):
        if abs(ratio / factor - 1.0) < 0.05:
            return f"{name} of the hum's {float(hum_bpm):.0f} bpm"
    return ""
