"""``FakeDiscord`` plus what jam sessions use: public threads, pins and reactions.

A subclass (the shared fake stays as it is): ``POST /channels/{id}/threads`` creates a thread
channel (and dispatches ``THREAD_CREATE`` like Discord), pins are accepted, threads are sent in
``GUILD_CREATE``'s ``threads`` (so a restarted bot knows them), and ``react`` dispatches
``MESSAGE_REACTION_ADD``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakediscord import payloads as p
from tests.fakediscord.server import FakeDiscord, FakeUser, RecordedRequest, _Channel, _json

JSON = dict[str, Any]


class JamFakeDiscord(FakeDiscord):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.carol = FakeUser(p.snowflake(), "carol")
        self.users[self.carol.id] = self.carol
        self.pins: list[tuple[int, int]] = []  # (channel id, message id)

    @property
    def thread_ids(self) -> list[int]:
        return [cid for cid, ch in self.channels.items() if ch.payload.get("type") == 11]

    def guild_payload(self) -> JSON:
        data = super().guild_payload()
        data["threads"] = [c for c in data["channels"] if c.get("type") == 11]
        data["channels"] = [c for c in data["channels"] if c.get("type") != 11]
        return data

    def thread_payload(self, thread_id: int, parent_id: int, name: str) -> JSON:
        return {
            "id": str(thread_id),
            "guild_id": str(self.guild_id),
            "parent_id": str(parent_id),
            "owner_id": str(self.bot_user.id),
            "type": 11,
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": p.iso(),
                "locked": False,
            },
        }

    async def _route(self, method: str, parts: list[str], rec: RecordedRequest) -> web.Response:
        match (method, parts):
            case ("POST", ["channels", cid, "threads"]):
                body = rec.json or {}
                tid = p.snowflake()
                thread = self.thread_payload(tid, int(cid), str(body.get("name", "thread")))
                self.channels[tid] = _Channel(thread)
                await self.dispatch("THREAD_CREATE", dict(thread, newly_created=True))
                return _json(thread, status=201)
            case ("PUT", ["channels", cid, "messages", "pins", mid]) | (
                "PUT",
                ["channels", cid, "pins", mid],
            ):
                self.pins.append((int(cid), int(mid)))
                return web.Response(status=204)
        return await super()._route(method, parts, rec)

    async def react(
        self, who: FakeUser, channel_id: int, message_id: int, emoji: str = "👍"
    ) -> None:
        await self.dispatch(
            "MESSAGE_REACTION_ADD",
            {
                "user_id": str(who.id),
                "channel_id": str(channel_id),
                "message_id": str(message_id),
                "guild_id": str(self.guild_id),
                "member": p.member(who.payload),
                "emoji": {"id": None, "name": emoji},
                "burst": False,
                "type": 0,
                "message_author_id": str(self.bot_user.id),
            },
        )
