"""Re-encoding a track to fit a small upload limit keeps it stereo."""

from __future__ import annotations

import io

import av
import numpy as np

import audio
from bot.delivery import fit_audio
from db.types import Output


def test_a_track_reencoded_to_fit_stays_stereo() -> None:
    rate = 44100
    t = np.arange(20 * rate) / rate
    left = 0.3 * np.sin(2 * np.pi * 220 * t)
    right = 0.3 * np.sin(2 * np.pi * 330 * t)
    stereo = np.stack([left, right], axis=1).astype(np.float32)
    opus = Output("track.opus", "audio/ogg", audio.encode(stereo, rate, "opus"))
    flac = Output("track.flac", "audio/flac", audio.encode(stereo, rate, "flac"))
    budget = len(opus.data) // 2
    data, ext, note = fit_audio(opus, flac, budget)
    assert ext == "opus" and len(data) <= budget and note
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.audio[0].codec_context.channels == 2
