"""Buttons and modals. Result buttons are ``DynamicItem``s (custom_id ``humjam:<action>:<job_id>``)
so they keep working after a restart: ``from_custom_id`` rebuilds the item from ids alone and
the callback reloads the job from the queue. Ownership is checked in ``interaction_check``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Self, TypeAlias

import discord

from bot.ports import require_job
from db.errors import JobNotFound

if TYPE_CHECKING:
    from bot.app import HumjamBot

log = logging.getLogger(__name__)

ACTIONS: dict[str, tuple[str, str, discord.ButtonStyle]] = {
    # action: (label, emoji, style)
    "reroll": ("Re-roll", "🎲", discord.ButtonStyle.primary),
    "variation": ("Variation", "🔀", discord.ButtonStyle.secondary),
    "extend": ("Extend", "➕", discord.ButtonStyle.secondary),
    "remix": ("Remix", "🎨", discord.ButtonStyle.secondary),
    # issue 14: the next hum continues this track (bot/continuation.py)
    "next": ("Hum what comes next", "🎤", discord.ButtonStyle.secondary),
    "info": ("Info", "ℹ️", discord.ButtonStyle.secondary),
    "delete": ("Delete", "🗑️", discord.ButtonStyle.danger),
}
# Who may press: the requester for anything that spends their hum; admins may also delete.
OWNER_ONLY = frozenset({"reroll", "variation", "extend", "remix", "next", "delete", "stems"})
MAX_CUSTOM_ID = 100

Interaction: TypeAlias = "discord.Interaction[HumjamBot]"


def is_admin(interaction: Interaction) -> bool:
    perms = interaction.permissions
    return bool(perms.administrator or perms.manage_messages or perms.manage_guild)


async def guarded(interaction: Interaction, action: Callable[[], Awaitable[Any]]) -> None:
    """Run a component callback; errors go through the tree's one error path."""
    try:
        await action()
    except Exception as exc:
        await interaction.client.tree.report(interaction, exc)


class IdButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    """A restart-proof button whose whole state is in its custom_id (ids only, ≤ 100 characters).

    Subclasses give their own ``template`` and build themselves from its match in ``from_match``;
    ``from_custom_id`` must do no I/O — discord.py swallows exceptions raised there, so the
    callback loads whatever it needs.
    """

    def __init__(
        self,
        custom_id: str,
        *,
        label: str,
        style: discord.ButtonStyle,
        emoji: str | None = None,
        disabled: bool = False,
        row: int | None = None,
    ) -> None:
        assert len(custom_id) <= MAX_CUSTOM_ID, custom_id
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji=emoji,
                style=style,
                custom_id=custom_id,
                disabled=disabled,
                row=row,
            )
        )

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        raise NotImplementedError

    @classmethod
    async def from_custom_id(
        cls,
        interaction: Interaction,  # type: ignore[override]
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls.from_match(match)


async def requester_check(
    interaction: Interaction, job_id: int, *, gone: str, admins_too: bool = False
) -> bool:
    """Let only the job's requester (and, with ``admins_too``, moderators) press; tell anyone
    else why, privately. ``gone`` is the reply when the job no longer exists."""
    tree = interaction.client.tree
    try:
        job = await require_job(interaction.client.queue, job_id)
    except JobNotFound:
        await tree.reply_error(interaction, "job_not_found", gone)
        return False
    except Exception as exc:
        await tree.report(interaction, exc)
        return False
    if job.requester_id == interaction.user.id or (admins_too and is_admin(interaction)):
        return True
    await tree.reply_error(
        interaction, "not_owner", f"Only <@{job.requester_id}> can use this button."
    )
    return False


class JobButton(
    IdButton,
    template=r"humjam:(?P<action>reroll|variation|extend|remix|next|info|delete):(?P<job_id>[0-9]{1,19})",
):
    """One of the buttons under a finished track."""

    def __init__(self, action: str, job_id: int) -> None:
        label, emoji, style = ACTIONS[action]
        super().__init__(f"humjam:{action}:{job_id}", label=label, emoji=emoji, style=style)
        self.action = action
        self.job_id = job_id

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        return cls(match["action"], int(match["job_id"]))

    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        if self.action not in OWNER_ONLY:
            return True
        return await requester_check(
            interaction,
            self.job_id,
            gone="That track no longer exists.",
            admins_too=self.action == "delete",
        )

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        from bot.cogs.generate import Generate

        cog = interaction.client.get_cog("Generate")
        if not isinstance(cog, Generate):
            await interaction.client.tree.reply_error(
                interaction, "unavailable", "That button isn't available right now."
            )
            return
        await guarded(interaction, lambda: cog.on_button(interaction, self.action, self.job_id))


class StemsButton(JobButton, template=r"humjam:stems:(?P<job_id>[0-9]{1,19})"):
    """Stems: the same track again as one stereo file per instrument (a re-render: see
    generator/stems.py). Owner only, like the other buttons that spend the hum."""

    def __init__(self, job_id: int) -> None:
        IdButton.__init__(
            self,
            f"humjam:stems:{job_id}",
            label="Stems",
            emoji="🎚️",
            style=discord.ButtonStyle.secondary,
        )
        self.action = "stems"
        self.job_id = job_id

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        return cls(int(match["job_id"]))


def result_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(JobButton(action, job_id))
    view.add_item(StemsButton(job_id))
    return view


class HistoryPage(
    IdButton,
    template=r"humjam:history:(?P<user_id>[0-9]{1,20}):(?P<page>[0-9]{1,4}):(?P<dir>prev|next)",
):
    """Previous/next page of /history; only the user whose history it is may page it."""

    def __init__(self, user_id: int, page: int, direction: str, *, disabled: bool = False) -> None:
        super().__init__(
            f"humjam:history:{user_id}:{page}:{direction}",
            label="◀ Newer" if direction == "prev" else "Older ▶",
            style=discord.ButtonStyle.secondary,
            disabled=disabled,
        )
        self.user_id = user_id
        self.page = page

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        return cls(int(match["user_id"]), int(match["page"]), match["dir"])

    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        if interaction.user.id == self.user_id:
            return True
        await interaction.client.tree.reply_error(
            interaction, "not_owner", "That's someone else's history — run `/history` yourself."
        )
        return False

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        from bot.cogs.jobs import Jobs

        cog = interaction.client.get_cog("Jobs")
        if isinstance(cog, Jobs):
            await guarded(interaction, lambda: cog.show_history(interaction, self.page, edit=True))


def history_view(user_id: int, page: int, pages: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(HistoryPage(user_id, max(0, page - 1), "prev", disabled=page <= 0))
    view.add_item(HistoryPage(user_id, page + 1, "next", disabled=page + 1 >= pages))
    return view


class PromptModal(discord.ui.Modal):
    """Asks for a prompt (context menu on a hum, Remix). ``on_prompt`` does the work."""

    prompt: discord.ui.TextInput[PromptModal] = discord.ui.TextInput(
        label="Describe the sound",
        placeholder="lofi hip hop, rhodes and vinyl crackle",
        max_length=300,
    )

    def __init__(
        self, title: str, on_prompt: Callable[[Interaction, str], Awaitable[None]], *, max_len: int
    ) -> None:
        super().__init__(title=title[:45], timeout=15 * 60)
        self.prompt.max_length = max_len
        self._on_prompt = on_prompt

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        await guarded(interaction, lambda: self._on_prompt(interaction, str(self.prompt.value)))

    async def on_error(self, interaction: Interaction, error: Exception) -> None:  # type: ignore[override]
        await interaction.client.tree.report(interaction, error)


class HumModal(PromptModal):
    """The context menu's form: the prompt, and how many takes (optional, 1 by default)."""

    takes: discord.ui.TextInput[HumModal] = discord.ui.TextInput(
        label="Takes (1-4, best first; each counts as a track)",
        placeholder="1",
        required=False,
        max_length=2,
    )

    def __init__(
        self,
        title: str,
        on_hum: Callable[[Interaction, str, str], Awaitable[None]],
        *,
        max_len: int,
    ) -> None:
        super().__init__(title, self._submit, max_len=max_len)
        self._on_hum = on_hum

    async def _submit(self, interaction: Interaction, prompt: str) -> None:
        await self._on_hum(interaction, prompt, str(self.takes.value or ""))


class ConfirmForget(discord.ui.View):
    """Yes/no for /forget; only the asking user can answer."""

    def __init__(self, user_id: int, on_confirm: Callable[[Interaction], Awaitable[None]]) -> None:
        super().__init__(timeout=120)
        self.user_id = user_id
        self._on_confirm = on_confirm

    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        return interaction.user.id == self.user_id

    @discord.ui.button(label="Delete everything", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: Interaction, button: discord.ui.Button[Any]) -> None:
        self.stop()
        await guarded(interaction, lambda: self._on_confirm(interaction))

    @discord.ui.button(label="Keep my data", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: Interaction, button: discord.ui.Button[Any]) -> None:
        self.stop()
        await interaction.response.edit_message(content="Nothing was deleted.", view=None)


__all__ = [
    "ConfirmForget",
    "HistoryPage",
    "JobButton",
    "PromptModal",
    "StemsButton",
    "history_view",
    "result_view",
]
