"""Parsing of duration, style and backend options (app_commands ``Transformer``s).

Bounds come from the running bot's settings, so they follow configuration rather than being
frozen in the command signature; the styles are the generator's catalogue (one source of truth:
what the bot offers is what the arranger can play). Bad values raise ``UserFacingError`` with the
limit stated.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.errors import UserFacingError
from bot.render import format_seconds
from generator.backends.arranger.styles import STYLES, get_style

if TYPE_CHECKING:
    from bot.app import HumjamBot

_DURATION = re.compile(
    r"^\s*(?:(?P<m>\d{1,3}):(?P<ms>\d{1,2})"
    r"|(?:(?P<min>\d+(?:\.\d+)?)\s*m(?:in)?)?\s*(?:(?P<sec>\d+(?:\.\d+)?)\s*s?(?:ec)?)?)\s*$",
    re.IGNORECASE,
)


def parse_duration(text: str) -> float:
    """``"30"``, ``"30s"``, ``"1m30s"``, ``"1:30"`` → seconds; ``ValueError`` otherwise."""
    if len(text) > 32:
        raise ValueError(text[:32])
    match = _DURATION.match(text)
    if not match or not any(match.groupdict().values()):
        raise ValueError(text)
    if match["m"] is not None:
        return int(match["m"]) * 60 + int(match["ms"])
    return float(match["min"] or 0) * 60 + float(match["sec"] or 0)


class DurationTransformer(app_commands.Transformer):
    """Seconds of output, between the configured minimum and maximum."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.string

    async def transform(  # type: ignore[override]
        self, interaction: discord.Interaction[HumjamBot], value: str
    ) -> float:
        settings = interaction.client.settings
        try:
            seconds = parse_duration(str(value))
        except ValueError:
            raise UserFacingError(
                "bad_duration", "I couldn't read that duration — try `30`, `45s` or `1m30s`."
            ) from None
        if not math.isfinite(seconds) or not (
            settings.min_duration_s <= seconds <= settings.max_duration_s
        ):
            raise UserFacingError(
                "duration_out_of_range",
                f"Duration must be between {format_seconds(settings.min_duration_s)} and "
                f"{format_seconds(settings.max_duration_s)}.",
            )
        return seconds

    async def autocomplete(  # type: ignore[override]
        self, interaction: discord.Interaction[HumjamBot], value: str
    ) -> list[app_commands.Choice[str]]:
        settings = interaction.client.settings
        presets = [d for d in settings.duration_presets if d <= settings.max_duration_s]
        return [
            app_commands.Choice(name=format_seconds(d), value=str(int(d)))
            for d in presets
            if str(value).strip() in str(int(d)) or not str(value).strip()
        ][:25]


#: the styles the generator can play, in its catalogue's order
STYLE_NAMES: tuple[str, ...] = tuple(s.name for s in STYLES)


def check_style(value: str) -> str | None:
    """A catalogue style name (aliases like ``bossa`` accepted), None for ``auto``/empty."""
    wanted = value.strip().lower()
    if wanted in ("", "auto"):
        return None
    try:
        return get_style(wanted).name
    except KeyError:
        raise UserFacingError(
            "unknown_style", f"I don't know that style. Try one of: {', '.join(STYLE_NAMES)}."
        ) from None


class StyleTransformer(app_commands.Transformer):
    """One of the generator's styles (or ``auto``: the prompt picks it)."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.string

    async def transform(  # type: ignore[override]
        self, interaction: discord.Interaction[HumjamBot], value: str
    ) -> str | None:
        return check_style(str(value)[:40])

    async def autocomplete(  # type: ignore[override]
        self, interaction: discord.Interaction[HumjamBot], value: str
    ) -> list[app_commands.Choice[str]]:
        typed = str(value).strip().lower()
        names = ["auto", *STYLE_NAMES]
        return [app_commands.Choice(name=n, value=n) for n in names if typed in n][:25]


def check_backend(name: str, backends: tuple[str, ...]) -> str:
    """``name`` normalised, if it is one of the configured ``backends``; else a friendly refusal."""
    wanted = name.strip().lower()
    if wanted not in backends:
        raise UserFacingError(
            "unknown_backend", f"Unknown backend; choose one of: {', '.join(backends)}."
        )
    return wanted


async def backend_autocomplete(
    interaction: discord.Interaction[HumjamBot], current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete for a ``backend`` option: the configured backends matching what was typed.

    Commands validate the value after deferring (``check_backend``), so the refusal arrives as
    a followup like every other refusal of theirs.
    """
    typed = str(current).strip().lower()
    names = interaction.client.settings.backends
    return [app_commands.Choice(name=n, value=n) for n in names if typed in n][:25]


Duration = app_commands.Transform[float, DurationTransformer]
Style = app_commands.Transform[str | None, StyleTransformer]
