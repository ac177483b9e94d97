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


def test_samples_loaded_on_demand_play_the_same() -> None:
    # the one-shot CLI reads only the presets a track plays; the track must not change
    spec = parse_prompt("lofi hip hop, rhodes and vinyl crackle")
    midi = arrange(compose_melody(spec, 2), spec, 6.0, 2)
    whole = Synthesizer(SF3, 22050)
    on_demand = Synthesizer(SF3, 22050, samples_on_demand=True)
    try:
        first = on_demand.render_stems(midi, 6.0)
        again = on_demand.render_stems(midi, 6.0)  # the samples were released and read again
        reference = whole.render_stems(midi, 6.0)
    finally:
        whole.close()
        on_demand.close()
    assert first.keys() == reference.keys() and len(reference) >= 3
    for stem, audio in reference.items():
        assert np.any(audio != 0), stem
        assert np.array_equal(again[stem], first[stem]), stem  # repeatable
        # the same track: FluidSynth's drum voices come out a hair different (~-117 dB), far
        # below what a 16-bit file can hold (-96 dB); the other stems are bit-identical
        residual = np.sum((first[stem] - audio) ** 2) / np.sum(audio**2)
        assert 10 * np.log10(residual + 1e-30) < -100.0, stem
