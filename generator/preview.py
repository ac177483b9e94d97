"""Previews (issue #10): show what was heard before anything is rendered.

A job stops at a preview when it is a ``preview`` job (``/generate … preview:true`` or a preview
button), or when it asked to (``params["ask_if_unsure"]``, set by the bot on Discord hums) and
the reading is not confident. A preview runs ``listen`` with the user's pinned choice
(``params["reading"]``, a ``ReadingChoice.to_json()`` dict) and keeps the piano roll, the MIDI
and the reading; it renders no audio, so it charges no quota (``JobQueue.become_preview``).

"Confirmed" is the absence of ``ask_if_unsure``: the render job made by "Sounds right — make it"
carries ``confirmed_from`` (the preview's id) and ``ask_if_unsure: false``, so it always renders,
following ``params["reading"]`` (the worker passes params as ``RenderRequest.options``). The CLI
never sets ``ask_if_unsure``, so ``humjam generate`` never stops to ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db.types import Job, JobKind, Output
from generator.backend import RenderRequest
from generator.errors import RenderRefused

__all__ = ["UNSURE_NOTICE", "Preview", "asks_if_unsure", "preview_for"]

#: what the user reads when a render stopped to ask
UNSURE_NOTICE = "I'm not sure I heard that right — check and press **Sounds right — make it**."


@dataclass(frozen=True)
class Preview:
    """What a job that stopped at a preview stores: files and result metadata."""

    outputs: list[Output]
    meta: dict[str, Any]


def asks_if_unsure(job: Job) -> bool:
    """A render that may stop at a preview: asked for by the bot, not yet confirmed, and on the
    arranger (the backend that follows a reading; MusicGen follows the hum's chroma)."""
    params = job.params
    return (
        job.backend == "arranger"
        and bool(params.get("ask_if_unsure"))
        and params.get("confirmed_from") is None
    )


def preview_for(job: Job, request: RenderRequest, ask_below: float | None = None) -> Preview | None:
    """The preview ``job`` stops at, or None when it should render as usual.

    ``ask_below``: the confidence under which an asking hum stops (None: the reading's own
    ``confident``, i.e. listen's calibrated bar; 0: never). Raises ``RenderRefused`` when a
    preview job has no hum or no tune can be heard in it.
    """
    wanted = job.kind is JobKind.PREVIEW
    if not wanted and not (asks_if_unsure(job) and request.melody is not None):
        return None
    if request.melody is None:
        raise RenderRefused("preview_needs_hum", "A preview needs a hum — attach one and retry.")
    # Imported here: only workers that meet a preview pay for the analysis modules.
    from generator.backends.arranger.backend import ArrangerBackend
    from generator.backends.arranger.listen import (
        ReadingChoice,
        listen_with,
        reading_midi,
        reading_piano_roll,
    )

    # the prompt read exactly as the arranger will read it, so the render hears the same
    spec = ArrangerBackend().spec_for(request)
    choice = ReadingChoice.from_json(job.params.get("reading"))
    reading = listen_with(request.melody, request.melody_rate, spec, choice)
    sure = reading.confident if ask_below is None else reading.confidence >= ask_below
    if not wanted and sure:
        return None
    outputs = [
        Output("pianoroll.png", "image/png", reading_piano_roll(reading)),
        Output("melody.mid", "audio/midi", reading_midi(reading)),
    ]
    heard = reading.to_json()
    meta: dict[str, Any] = {
        "preview": True,
        # stopped on its own (not confident) rather than asked for
        "unsure": not wanted,
        "reading": heard,
        "choice": choice.to_json(),
        "summary": reading.summary(),
        # the fields the result embeds show for every job
        "key": heard.get("key"),
        "bpm": heard.get("bpm"),
    }
    if not wanted:
        meta["notice"] = UNSURE_NOTICE
    return Preview(outputs, meta)
