"""Stems for a finished job: the stem zips a job stores when it was asked for stems.

Stems are made on demand, not stored with every render: a render is deterministic (same
prompt, hum, seed, duration and options → the same track, bit for bit), so the bot's Stems
button enqueues the same job again with ``params["stems"] = True`` (and ``stems_of`` = the
original job's id), and only that job stores the zips. The database keeps one track per
render, plus stems for the few people who ask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.backend import RenderResult

if TYPE_CHECKING:
    from db.types import Output

__all__ = ["STEM_PART_BYTES", "stem_outputs"]

#: each zip stays under Discord's default 10 MiB upload limit with room for the message
STEM_PART_BYTES = 8 * 1024 * 1024


def stem_outputs(result: RenderResult, part_bytes: int = STEM_PART_BYTES) -> list[Output]:
    """``Output`` rows for the result's stems (none when it has none): ``stems.zip``, or
    ``stems-1of3.zip``... each within ``part_bytes``, one stereo FLAC per instrument."""
    if not result.stems:
        return []
    from audio.stems import encode_stems, pack_stems
    from db.types import Output

    style = str(result.metadata.get("style", "track")).replace(" ", "-")
    files = encode_stems(result.stems, result.sample_rate, f"{style}-", part_bytes)
    return [Output(z.name, "application/zip", z.data) for z in pack_stems(files, part_bytes)]
