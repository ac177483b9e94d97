"""Jam jobs on the queue: what the worker does with a ``JobKind.JAM`` job.

``params["jam_action"]`` says which:

- ``"part"``: hear the member's hum (or invent a take when there is none), conform it to the
  session's key and tempo, store its notes on the part, and render a short preview of it;
- ``"mix"``: arrange every ready take into the song and render it (a work-in-progress mix);
- ``"end"``: the same, as the session's final track (the bot posts the recap).

The result is an ordinary ``RenderResult`` (audio, MIDI, piano roll, metadata), so the queue
stores and the bot delivers it like any other job.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from audio.errors import AudioRejected
from db.jam import JamPartInfo, JamSession, JamStore, PartStatus
from db.types import Job
from generator.backend import Backend, Progress, RenderResult, no_progress
from generator.backends.arranger.types import BeatNote, Key, Melody
from generator.errors import RenderRefused
from generator.jam.form import plan_song
from generator.jam.mixdown import format_credits, render_session
from generator.jam.parts import (
    JamPart,
    Role,
    conform_part,
    invent_part,
    notes_from_json,
    notes_to_json,
    parse_key,
    part_fit,
    register_for_role,
)
from generator.jam.pianoroll import session_piano_roll
from generator.settings import GeneratorSettings

__all__ = ["ACTIONS", "render_jam_job"]

log = logging.getLogger(__name__)

ACTIONS = ("part", "mix", "end")
#: a part's preview is at least this long, so a two-note hum still gets a bar of band
_PREVIEW_MIN_BARS = 2


def render_jam_job(
    job: Job,
    hum: bytes | None,
    hum_filename: str | None,
    store: JamStore,
    settings: GeneratorSettings,
    progress: Progress = no_progress,
    backend: Backend | None = None,
) -> RenderResult:
    """Render one jam job; ``RenderRefused`` (shown to the user) when it can't be done.

    ``backend`` is the worker's: a MusicGen backend renders mixes section by section
    (``generator.jam.musicgen_mix``); parts, and every job on other workers, use the arranger.
    """
    action = job.params.get("jam_action")
    session_id = job.params.get("jam_session")
    if action not in ACTIONS or not isinstance(session_id, int):
        raise RenderRefused("jam_bad_job", "This jam request is incomplete; please try again.")
    session = store.get(session_id)
    if session.length_s > settings.max_duration_s:
        raise RenderRefused(
            "bad_duration",
            f"Jam tracks can be up to {settings.max_duration_s:g} seconds long on this server.",
        )
    key = parse_key(session.key)
    if action == "part":
        return _render_part(job, hum, hum_filename, session, key, store, settings, progress)
    return _render_mix(
        job, session, key, store, settings, progress, final=action == "end", backend=backend
    )


def _to_jam_part(p: JamPartInfo) -> JamPart:
    return JamPart(
        id=p.id,
        member_id=p.member_id,
        member_name=p.member_name,
        role=Role(p.role),
        notes=notes_from_json(p.notes or []),
        votes=p.votes,
    )


def _hear(
    hum: bytes, filename: str | None, session: JamSession, key: Key
) -> tuple[tuple[BeatNote, ...], Melody]:
    """The hum as conformed notes (session key, session beat grid), and as heard."""
    import audio
    from generator.backends.arranger.analysis import analyse_hum

    clip = audio.prepare_hum(audio.decode(hum, filename))
    # The hum is heard at the session's tempo and metre, in its own key (conform moves it).
    melody = analyse_hum(
        clip.samples, clip.sample_rate, bpm=session.bpm, beats_per_bar=session.beats_per_bar
    )
    return conform_part(melody, key, session.bpm, session.beats_per_bar), melody


def _render_part(
    job: Job,
    hum: bytes | None,
    hum_filename: str | None,
    session: JamSession,
    key: Key,
    store: JamStore,
    settings: GeneratorSettings,
    progress: Progress,
) -> RenderResult:
    part_id = job.params.get("jam_part")
    if not isinstance(part_id, int):
        raise RenderRefused("jam_bad_job", "This jam part is incomplete; please add it again.")
    info = store.part(part_id)
    role = Role(info.role)
    progress(0.1, "listening")
    heard: Melody | None = None
    if hum is not None:
        try:
            notes, heard = _hear(hum, hum_filename, session, key)
        except (RenderRefused, AudioRejected) as exc:
            store.fail_part(part_id)  # this take will never be playable: keep it out of mixes
            raise RenderRefused(exc.code, exc.message) from exc
        if len(notes) < 2:
            store.fail_part(part_id)
            raise RenderRefused(
                "jam_no_tune",
                "I couldn't hear a tune in that clip. "
                "Hum a few clear notes (5–30 s) and post it again.",
            )
    else:
        # /jam add without a melody: a simple take in the session's key to build on.
        notes = invent_part(role, key, bars=4, beats_per_bar=session.beats_per_bar, seed=job.seed)
    conformed, notes = notes, register_for_role(notes, role)
    store.set_part_notes(part_id, notes_to_json(notes))
    progress(0.4, "rendering")
    part = JamPart(info.id, info.member_id, info.member_name, role, notes, info.votes)
    # The preview: a bar of band, the take, a bar to ring out.
    bar_s = session.beats_per_bar * 60.0 / session.bpm
    bars = max(_PREVIEW_MIN_BARS, math.ceil(part.beats / session.beats_per_bar - 1e-9)) + 2
    plan = plan_song(
        [part], bars * bar_s, key=key, bpm=session.bpm, beats_per_bar=session.beats_per_bar
    )
    out = render_session(
        plan,
        session.style,
        job.seed,
        sample_rate=settings.sample_rate,
        soundfont=settings.soundfont,
    )
    progress(0.9, "drawing")
    joined = [p.member_id for p in store.parts(session.id)]
    png = session_piano_roll(
        plan, title=f"{info.member_name} — {role} in {key.name}", members=joined
    )
    meta: Mapping[str, Any] = {
        "jam_session": session.id,
        "jam_action": "part",
        "jam_part": part_id,
        "role": str(role),
        "member": info.member_name,
        "key": key.name,
        "bpm": session.bpm,
        "style": session.style,
        "notes": len(notes),
        "invented": hum is None,
    }
    if heard is not None:  # issue 14: the reply says how far the take was moved
        fit = part_fit(heard, key, session.bpm, conformed=conformed, placed=notes)
        meta = {**meta, "fit": fit.to_json()}
    return RenderResult(out.audio, out.sample_rate, meta, out.midi, png)


def _render_mix(
    job: Job,
    session: JamSession,
    key: Key,
    store: JamStore,
    settings: GeneratorSettings,
    progress: Progress,
    *,
    final: bool,
    backend: Backend | None = None,
) -> RenderResult:
    parts = [_to_jam_part(p) for p in store.parts(session.id) if p.status is PartStatus.READY]
    if not parts:
        raise RenderRefused(
            "jam_empty", "This session has no parts yet: post a voice message or use /jam add."
        )
    progress(0.1, "arranging")
    plan = plan_song(
        parts, session.length_s, key=key, bpm=session.bpm, beats_per_bar=session.beats_per_bar
    )
    progress(0.3, "rendering")
    if backend is not None and backend.name == "musicgen":
        from generator.jam.musicgen_mix import render_session_musicgen  # torch: only here

        def sections(fraction: float, stage: str) -> None:
            progress(0.3 + 0.6 * fraction, stage)

        out = render_session_musicgen(
            plan,
            session.style,
            job.seed,
            backend,
            sample_rate=settings.sample_rate,
            progress=sections,
        )
    else:
        out = render_session(
            plan,
            session.style,
            job.seed,
            sample_rate=settings.sample_rate,
            soundfont=settings.soundfont,
        )
    progress(0.9, "drawing")
    png = session_piano_roll(plan, title=f"{session.name} — {key.name}, {session.bpm:g} bpm")
    credits = [
        {
            "member_id": c.member_id,
            "member": c.member_name,
            "parts": [{"part": i, "role": r, "sections": list(secs)} for i, r, secs in c.parts],
        }
        for c in out.credits
    ]
    meta: Mapping[str, Any] = {
        "jam_session": session.id,
        "jam_action": "end" if final else "mix",
        "final": final,
        "key": key.name,
        "bpm": session.bpm,
        "style": session.style,
        "length_s": session.length_s,
        "sections": [[s.name, s.bars, s.lead, list(s.layers)] for s in plan.sections],
        "dropped": list(plan.dropped),
        "credits": credits,
        "credit_lines": format_credits(out.credits),
        "parts": [p.id for p in parts],
    }
    log.info(
        "jam %s rendered",
        "final mix" if final else "mix",
        extra={"jam_session": session.id, "job_id": job.id},
    )
    return RenderResult(out.audio, out.sample_rate, meta, out.midi, png)
