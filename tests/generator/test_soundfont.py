"""The SF3 → SF2 cache: same instruments, same sound, loaded once per machine."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from generator.backends.arranger.arrange import arrange
from generator.backends.arranger.compose import compose_melody
from generator.backends.arranger.prompt import parse_prompt
from generator.backends.arranger.render import Synthesizer
from generator.backends.arranger.soundfont import cached_sf2
from generator.settings import SOUNDFONTS

SF3 = SOUNDFONTS[0]
pytestmark = pytest.mark.skipif(not SF3.is_file(), reason="musescore-general-soundfont missing")


def test_sf3_is_cached_once_as_an_sf2_that_plays_the_same() -> None:
    sf2 = cached_sf2(SF3)
    assert sf2 != SF3 and sf2.suffix == ".sf2"
    head = sf2.read_bytes()[:12]
    assert head[:4] == b"RIFF" and head[8:12] == b"sfbk"
    built = os.stat(sf2).st_mtime_ns
    assert cached_sf2(SF3) == sf2 and os.stat(sf2).st_mtime_ns == built  # reused, not rebuilt

    spec = parse_prompt("orchestral")
    midi = arrange(compose_melody(spec, 1), spec, 6.0, 1)
    cached = Synthesizer(SF3, 22050).render(midi, 6.0)
    # FluidSynth decoding the SF3 itself: the same samples, the same track
    direct = Synthesizer(SF3, 22050, cache=False)
    reference = direct.render(midi, 6.0)
    direct.close()
    residual = np.sum((cached - reference) ** 2) / np.sum(reference**2)
    assert 10 * np.log10(residual + 1e-30) < -80.0  # (often bit-identical)


def test_other_soundfonts_pass_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sf2 = SOUNDFONTS[-1]
    assert cached_sf2(sf2) == sf2
    broken = tmp_path / "broken.sf3"
    broken.write_bytes(b"not a soundfont")
    monkeypatch.setenv("HUMJAM_CACHE_DIR", str(tmp_path / "cache"))
    assert cached_sf2(broken) == broken  # can't convert: FluidSynth gets the original
