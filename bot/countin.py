"""The jam card's "Count me in" button: a private clip, one bar of click over the tonic chord.

The custom_id is ``humjam:countin:<session_id>`` (ids only): tempo, metre and key are read from
the jam store when the button is pressed, so the button keeps working after a restart.

Why the clip is made here and not by a worker: it must come back within seconds even while the
workers render long tracks, it costs no quota, and it needs no SoundFont. ``audio.countin``
synthesises it with numpy (about 0.1 s, cached per tempo/metre/key) and Opus-encodes it (about
0.06 s), in a thread so the event loop keeps acknowledging other interactions.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from typing import TYPE_CHECKING, Self, TypeAlias

import discord

from bot import metrics
from bot.errors import UserFacingError
from bot.render import slug
from bot.views import IdButton, guarded
from db.jam import AsyncJamStore, JamNotFound, JamSession, key_tonic

if TYPE_CHECKING:
    from bot.app import HumjamBot

__all__ = ["CountMeIn", "count_in_file", "count_in_text", "countin_view"]

log = logging.getLogger(__name__)

Interaction: TypeAlias = "discord.Interaction[HumjamBot]"


def count_in_file(bpm: float, beats_per_bar: int, key: str) -> bytes:
    """The clip as Ogg/Opus bytes (CPU work: call it in a thread)."""
    import audio
    from audio.countin import COUNT_IN_RATE, count_in

    tonic, minor = key_tonic(key)
    return audio.encode(count_in(bpm, beats_per_bar, tonic, minor), COUNT_IN_RATE, "opus")


def count_in_text(session: JamSession) -> str:
    """What the private reply says: the settings, and where to come in."""
    tonic = session.key.split()[0]
    return (
        f"🥁 **Count-in** for *{discord.utils.escape_markdown(session.name)}*: "
        f"{session.key}, {session.bpm:g} BPM, {session.beats_per_bar}/4. One bar of click "
        f"(the louder knock is beat 1) over the {session.key} chord — start humming on the next "
        f"beat 1; **{tonic}** is the home note. Only you can see this."
    )


def _filename(session: JamSession) -> str:
    return f"humjam-countin-{slug(session.key)}-{session.bpm:g}bpm-{session.beats_per_bar}-4.ogg"


def _jam_store(bot: HumjamBot) -> AsyncJamStore:
    """The bot's jam store (through the jam service the bot owns, ``bot/jams.py``)."""
    service = getattr(bot, "jams", None)
    if service is None:
        raise UserFacingError("unavailable", "Jam sessions aren't available right now.")
    return service.store  # type: ignore[no-any-return]


async def send_count_in(interaction: Interaction, session_id: int) -> None:
    """Acknowledge privately at once, then send the clip as an ephemeral followup."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    metrics.ACK_SECONDS.observe(
        max(0.0, (discord.utils.utcnow() - interaction.created_at).total_seconds())
    )
    try:
        session = await _jam_store(interaction.client).get(session_id)
    except JamNotFound:
        raise UserFacingError("jam_not_found", "That jam session no longer exists.") from None
    if not session.is_open:
        raise UserFacingError("jam_closed", "This jam session has ended.")
    data = await asyncio.to_thread(count_in_file, session.bpm, session.beats_per_bar, session.key)
    await interaction.followup.send(
        count_in_text(session),
        file=discord.File(io.BytesIO(data), filename=_filename(session)),
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )
    log.info("count-in sent", extra={"jam_session": session_id, "user_id": interaction.user.id})


class CountMeIn(IdButton, template=r"humjam:countin:(?P<session_id>[0-9]{1,19})"):
    """Anyone may press it: the clip is private to whoever asked."""

    def __init__(self, session_id: int) -> None:
        super().__init__(
            f"humjam:countin:{session_id}",
            label="Count me in",
            emoji="🥁",
            style=discord.ButtonStyle.secondary,
        )
        self.session_id = session_id

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        return cls(int(match["session_id"]))

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await guarded(interaction, lambda: send_count_in(interaction, self.session_id))


def countin_view(session_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CountMeIn(session_id))
    return view
