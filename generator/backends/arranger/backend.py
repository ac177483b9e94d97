"""The arranger backend: hum → notes → arrangement → FluidSynth → mastered audio.

No weights and no GPU. ``load`` opens the SoundFont once per process; ``render`` runs the
stages in order and reports progress between them, so a cancelled job stops at the next
stage boundary. Text-only requests get a melody composed in the requested style.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from generator.backend import Progress, RenderRequest, RenderResult, no_progress
from generator.backends.arranger.arrange import Layout, arrange, plan
from generator.backends.arranger.compose import compose_melody
from generator.backends.arranger.listen import Reading, ReadingChoice, listen_with
from generator.backends.arranger.mastering import master_stems
from generator.backends.arranger.pianoroll import draw_piano_roll, melody_time_offset
from generator.backends.arranger.prompt import PromptSpec, key_from_name, parse_prompt
from generator.backends.arranger.render import Synthesizer, shared_synthesizer
from generator.backends.arranger.styles import STYLES, get_style
from generator.backends.arranger.types import Melody, parse_meter_name
from generator.errors import RenderRefused
from generator.settings import GeneratorSettings

__all__ = ["ArrangerBackend"]

log = logging.getLogger(__name__)

MIN_DURATION_S = 5.0
MIN_HUM_S = 0.5
#: how much a loop is rendered past its end: the ring-out folded into its start
LOOP_TAIL_S = 4.0


class ArrangerBackend:
    """The embedded default backend (``name = "arranger"``)."""

    name = "arranger"
    max_batch = 1

    def __init__(self, settings: GeneratorSettings | None = None) -> None:
        self.settings = settings or GeneratorSettings()
        self._synth: Synthesizer | None = None

    def load(self) -> None:
        if self._synth is None:
            started = time.perf_counter()
            self._synth = shared_synthesizer(
                self.settings.soundfont,
                self.settings.sample_rate,
                samples_on_demand=self.settings.soundfont_on_demand,
            )
            log.info(
                "arranger loaded %s in %.2f s",
                self.settings.soundfont,
                time.perf_counter() - started,
            )

    def close(self) -> None:
        # The synthesizer is the process's (jam mixes share it); it lives until the process ends.
        self._synth = None

    def check(self, request: RenderRequest) -> None:
        limit = self.settings.max_duration_s
        if not MIN_DURATION_S <= request.duration_s <= limit:
            raise RenderRefused(
                "bad_duration",
                f"Tracks can be {MIN_DURATION_S:.0f} to {limit:.0f} seconds long; "
                f"you asked for {request.duration_s:g}.",
            )
        style = request.style or request.options.get("style")
        if style:
            try:
                get_style(str(style))
            except KeyError:
                names = ", ".join(s.name for s in STYLES)
                raise RenderRefused(
                    "unknown_style", f"I don't know the style {style!r}; try one of: {names}."
                ) from None
        if request.melody is not None:
            if request.melody_rate <= 0:
                raise RenderRefused("bad_hum", "That hum has no sample rate; please send it again.")
            if request.melody.size < MIN_HUM_S * request.melody_rate:
                raise RenderRefused(
                    "hum_too_short", f"That hum is too short; hum at least {MIN_HUM_S:g} s."
                )

    def spec_for(self, request: RenderRequest) -> PromptSpec:
        """The prompt read, with explicit options (from bot parameters) taking precedence."""
        options = request.options
        style = request.style or options.get("style") or None
        spec = parse_prompt(request.prompt, style=style, max_chars=self.settings.max_prompt_chars)
        changes: dict[str, Any] = {}
        if options.get("key"):
            key = key_from_name(str(options["key"]))
            if key is not None:
                changes["key"] = key
        if options.get("bpm"):
            changes["bpm"] = float(np.clip(float(options["bpm"]), 40.0, 220.0))
        if options.get("beats_per_bar"):
            changes["beats_per_bar"] = int(options["beats_per_bar"])
            changes["compound"] = False
        # a metre name ("6/8": a continued track's) also says whether the beat is compound
        meter = parse_meter_name(str(options["meter"])) if options.get("meter") else None
        if meter is not None:
            changes["beats_per_bar"], changes["compound"] = meter
        return dataclasses.replace(spec, **changes) if changes else spec

    def listen(self, request: RenderRequest) -> Melody:
        """Hear the request's hum as ``render`` does (takes share one hearing)."""
        return self._reading(request, self.spec_for(request)).melody

    def _reading(self, request: RenderRequest, spec: PromptSpec) -> Reading:
        assert request.melody is not None
        # choice (preview buttons) > prompt words > detection
        choice = ReadingChoice.from_json(request.options.get("reading"))
        return listen_with(request.melody, request.melody_rate, spec, choice)

    def render(
        self,
        request: RenderRequest,
        progress: Progress = no_progress,
        *,
        heard: Melody | None = None,
    ) -> RenderResult:
        """Render ``request``; ``heard``: the hum as ``listen`` heard it (not heard again)."""
        self.check(request)
        self.load()
        assert self._synth is not None
        timings: dict[str, float] = {}
        spec = self.spec_for(request)

        melody: Melody
        clock = time.perf_counter()
        if request.melody is not None:
            progress(0.0, "pitch")
            melody = heard if heard is not None else self.listen(request)
            # the reading's key, metre and tempo are final, so the arranger must not move them
            # again; the tempo is pinned when a choice or the prompt gave it (listen_with)
            choice = ReadingChoice.from_json(request.options.get("reading"))
            bpm_pinned = choice.bpm is not None or spec.bpm is not None
            spec = dataclasses.replace(
                spec,
                key=melody.key,
                bpm=melody.bpm if bpm_pinned else None,
                beats_per_bar=melody.beats_per_bar,
                compound=melody.compound,
            )
            timings["analysis"] = time.perf_counter() - clock
            progress(0.3, "notes")
        else:
            progress(0.0, "notes")
            melody = compose_melody(spec, request.seed)
            timings["compose"] = time.perf_counter() - clock
        if not melody.notes:
            raise RenderRefused(
                "no_notes", "I couldn't hear any notes in that hum; try humming louder or longer."
            )

        progress(0.35, "arrange")
        clock = time.perf_counter()
        loop = bool(request.options.get("loop"))
        layout = plan(melody, spec, request.duration_s, loop=loop)
        midi = arrange(melody, spec, request.duration_s, request.seed, loop=loop)
        # a loop is whole bars: its length is the bars', rendered on past the end for the tail
        duration_s = layout.final_s if loop else request.duration_s
        timings["arrange"] = time.perf_counter() - clock

        progress(0.45, "render")
        clock = time.perf_counter()
        rate = self.settings.sample_rate
        stems = self._synth.render_stems(
            midi,
            duration_s + (LOOP_TAIL_S if loop else 0.0),
            reverb=spec.style.reverb,
            chorus=spec.style.chorus,
        )
        timings["render"] = time.perf_counter() - clock

        progress(0.85, "master")
        clock = time.perf_counter()
        vinyl = spec.vinyl if spec.vinyl is not None else spec.style.vinyl
        mastered = master_stems(
            stems,
            rate,
            duration_s,
            target_lufs=self.settings.target_lufs,
            lowpass_hz=spec.style.lowpass_hz,
            vinyl=vinyl,
            seed=request.seed,
            tail_s=layout.tail_s,
            loop=loop,
        )
        midi_buf = io.BytesIO()
        midi.write(midi_buf)
        png = draw_piano_roll(melody, title_extra=f"arranged as {spec.style.name}")
        timings["master"] = time.perf_counter() - clock
        progress(1.0, "master")

        hum_offsets = _hum_offsets(layout, melody)
        metadata: dict[str, Any] = {
            "backend": self.name,
            "style": spec.style.name,
            "style_reason": spec.style_reason,
            "key": layout.key.name,
            "bpm": round(layout.bpm, 2),
            "beats_per_bar": layout.beats_per_bar,
            "duration": round(duration_s, 4),
            "channels": int(mastered.mix.shape[1]),
            "loop": loop,
            "bars": layout.final_bar,
            "soundfont": self.settings.soundfont.name,
            "notes_heard": len(melody.raw_notes),
            "notes_kept": len(melody.notes),
            "meter": melody.meter,
            "hum_key": (melody.sung_key or melody.key).name,  # as sung, before a key moved it
            "hum_bpm": round(melody.bpm, 2),
            # where hum time 0 sounds in the output (the melody enters after the intro), and
            # where it sounds again at each statement of the melody
            "hum_offset_s": hum_offsets[0],
            "hum_offsets_s": hum_offsets,
            "melody_start_s": round(layout.melody_start_s, 4),
            "pickup_beats": layout.pickup_beats,  # bar 0 starts after them
            "unknown_words": list(spec.unknown_words),
            "timings": {k: round(v, 4) for k, v in timings.items()},
        }
        log.info(
            "arranged %s in %s at %.0f bpm",
            spec.style.name,
            layout.key.name,
            layout.bpm,
            extra={"timings": timings},
        )
        return RenderResult(
            audio=mastered.mix,
            sample_rate=rate,
            metadata=metadata,
            midi=midi_buf.getvalue(),
            piano_roll_png=png,
            stems=dict(mastered.stems) if request.options.get("stems") else None,
        )

    def render_batch(
        self, requests: Sequence[RenderRequest], progresses: Sequence[Progress]
    ) -> list[RenderResult]:
        return [self.render(r, p) for r, p in zip(requests, progresses, strict=True)]


def _hum_offsets(layout: Layout, melody: Melody) -> list[float]:
    """Track time (s) where hum time 0 falls, for each statement of the melody."""
    hum_spb = 60.0 / (melody.read_bpm or melody.bpm)
    # seconds of track per second of hum (1 unless an asked-for tempo stretched the tune)
    stretch = layout.seconds_per_beat * layout.beat_scale / hum_spb
    lead_in = melody_time_offset(melody) * stretch if melody.raw_notes else 0.0
    offsets, bar = [], layout.intro_bars
    for bars in layout.statement_bars:
        # layout.time counts the pickup beats before bar 0
        offsets.append(round(layout.time(bar * layout.beats_per_bar) - lead_in, 4))
        bar += bars
    return offsets or [round(layout.melody_start_s - lead_in, 4)]
