"""Delivering a finished preview job (issue #10), for the delivery service (``bot.delivery``).

A preview is posted with what was heard and its buttons (``bot.preview``); a re-listen (a preview
button) is shown in place of the preview it came from, on the same message. A re-listen that
failed or was cancelled puts the previous preview's buttons back. The button presses themselves
are the preview cog's (``bot.cogs.preview``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.preview import ASK, preview_embed, preview_view
from bot.render import status_line
from db.types import Job, JobStatus

if TYPE_CHECKING:
    from bot.delivery import Delivery

__all__ = ["deliver_preview"]


async def deliver_preview(job: Job, delivery: Delivery) -> int:
    """Post (or, for a re-listen, show in place) a finished preview job; returns the message id
    that carries it."""
    relisten_of = job.params.get("relisten_of")
    if job.status is not JobStatus.SUCCEEDED:
        if relisten_of is not None and job.status_message_id is not None:
            return await _restore(job, int(relisten_of), delivery)
        await delivery.show(job, status_line(job), final=True)
        if job.status is JobStatus.CANCELLED:
            return job.status_message_id or 0
        return await delivery.post(
            job, content=f"<@{job.requester_id}> {status_line(job)}", mentions=_only(job)
        )
    attachments = await delivery.attachments(job)
    roll = next((f.filename for f in attachments.files if f.filename.endswith(".png")), None)
    notice = job.result_meta.get("notice")
    line = str(notice) if notice else ASK
    shown: dict[str, Any] = {"embed": preview_embed(job, roll), "view": preview_view(job)}
    if relisten_of is not None and job.status_message_id is not None:
        content = f"`#{job.id}` {line}"
        if await delivery.edit_in_place(
            job, content=content, attachments=attachments.files, **shown
        ):
            return job.status_message_id
    await delivery.show(job, status_line(job), final=True)
    return await delivery.post(
        job,
        content=f"<@{job.requester_id}> {line}",
        mentions=_only(job),
        files=attachments.files,
        **shown,
    )


async def _restore(job: Job, previous_id: int, delivery: Delivery) -> int:
    """A re-listen failed or was cancelled: put the previous preview's buttons back."""
    assert job.status_message_id is not None
    previous = await delivery.bot.queue.get(previous_id)
    reason = job.error_message or "it was cancelled"
    content = f"❌ `#{job.id}` I couldn't listen again — {reason} The reading before is back."
    fields: dict[str, Any] = {"content": content}
    if previous is not None and previous.status is JobStatus.SUCCEEDED:
        fields["view"] = preview_view(previous)
    await delivery.edit_in_place(job, **fields)
    return job.status_message_id


def _only(job: Job) -> discord.AllowedMentions:
    return discord.AllowedMentions(
        users=[discord.Object(job.requester_id)], everyone=False, roles=False
    )
