"""Jam sessions, symbolically: parts conformed to one key and tempo, a song form, one mixdown.

Pure functions on the arranger's value types; the queue/worker glue is ``generator.jam.jobs``.
"""

from __future__ import annotations

from generator.jam.form import Section, SongPlan, plan_song
from generator.jam.parts import JamPart, Role, conform_part, parse_key

__all__ = ["JamPart", "Role", "Section", "SongPlan", "conform_part", "parse_key", "plan_song"]
