"""A local fake Discord: gateway websocket + the REST routes and CDN a bot uses, on 127.0.0.1.

It is generic (no humjam knowledge) so any cog can be tested on the real discord.py client:
``FakeDiscord`` owns one guild with a few members, records every HTTP request, dispatches
gateway events to connected bots and offers helpers that act like a user (slash command,
context menu, button click, modal submit, autocomplete, uploads on the CDN).

Point discord.py at it with ``FakeDiscord.patch_client()`` (sets ``Route.BASE`` and the
gateway URL, restored by ``unpatch_client``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import yarl
from aiohttp import WSMsgType, web

from tests.fakediscord import payloads as p

log = logging.getLogger(__name__)

JSON = dict[str, Any]
INTERACTION_TOKEN_TTL_S = 15 * 60


@dataclass
class UploadedFile:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """One HTTP request the bot made: method, path (no API prefix), query, JSON body, files."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]
    at: float
    status: int = 0
    response: Any = None

    def matches(self, method: str, prefix: str) -> bool:
        return self.method == method and self.path.startswith(prefix)


@dataclass
class FakeUser:
    id: int
    name: str
    admin: bool = False
    bot: bool = False

    @property
    def payload(self) -> JSON:
        return p.user(self.id, self.name, bot=self.bot)


@dataclass
class SentInteraction:
    """An interaction the fake dispatched, with what the bot answered to it."""

    payload: JSON
    sent_at: float
    acked_at: float | None = None
    callback: JSON | None = None
    original_message_id: int | None = None
    expired: bool = False

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def token(self) -> str:
        return str(self.payload["token"])


@dataclass
class _Channel:
    payload: JSON
    messages: list[int] = field(default_factory=list)
    deleted: bool = False


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py only parses bodies whose content type is exactly "application/json".
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"message": message, "code": code}, status=status)


class FakeDiscord:
    """The fake server. ``await start()``, use it, ``await stop()``."""

    def __init__(self, *, premium_tier: int = 0, upload_limit: int = 10 * 1024 * 1024) -> None:
        self.application_id = p.snowflake()
        self.bot_user = FakeUser(p.snowflake(), "humjam", bot=True)
        self.owner = FakeUser(p.snowflake(), "owner", admin=True)
        self.alice = FakeUser(p.snowflake(), "alice")
        self.bob = FakeUser(p.snowflake(), "bob")
        self.admin = FakeUser(p.snowflake(), "modmin", admin=True)
        self.users = {
            u.id: u for u in (self.bot_user, self.owner, self.alice, self.bob, self.admin)
        }
        self.guild_id = p.snowflake()
        self.premium_tier = premium_tier
        self.upload_limit = upload_limit
        self.channel_id = p.snowflake()
        self.other_channel_id = p.snowflake()
        self.channels: dict[int, _Channel] = {
            cid: _Channel(p.text_channel(cid, self.guild_id, name, i))
            for i, (cid, name) in enumerate(
                [(self.channel_id, "general"), (self.other_channel_id, "music")]
            )
        }
        self.dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self.messages: dict[int, JSON] = {}
        self.message_files: dict[int, list[UploadedFile]] = {}
        self.cdn: dict[str, tuple[bytes, str]] = {}  # path -> (data, content type)
        self.chunked: set[str] = set()  # CDN paths served without Content-Length
        self.requests: list[RecordedRequest] = []
        self.interactions: dict[str, SentInteraction] = {}  # token -> interaction
        self.commands: dict[str, list[JSON]] = {}  # "global" / guild id -> synced commands
        self.presences: list[JSON] = []
        self.identifies = 0
        self.token_ttl_s = INTERACTION_TOKEN_TTL_S
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._saved: tuple[str, yarl.URL] | None = None

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway/ws", self._gateway)
        app.router.add_get("/cdn/{path:.*}", self._cdn)
        app.router.add_route("*", "/api/v10/{path:.*}", self._api)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self.unpatch_client()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cdn_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def patch_client(self) -> None:
        """Point discord.py (REST, webhooks and gateway) at this fake."""
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        if self._saved is None:
            self._saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        Route.BASE = f"{self.base_url}/api/v10"
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"ws://127.0.0.1:{self.port}/gateway/ws")

    def unpatch_client(self) -> None:
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        if self._saved is not None:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None

    async def disconnect_all(self) -> None:
        for ws in list(self._sockets):
            await ws.close()

    # ------------------------------------------------------------------ waiting

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until ``predicate()`` returns something truthy (re-checked on every request)."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("fake discord: condition not met in time")
                try:
                    await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))
                except TimeoutError:
                    pass

    async def wait_for_request(
        self, method: str, prefix: str, *, after: int = 0, timeout: float = 10.0
    ) -> RecordedRequest:
        def find() -> RecordedRequest | None:
            for req in self.requests[after:]:
                if req.matches(method, prefix):
                    return req
            return None

        result: RecordedRequest = await self.wait_until(find, timeout)
        return result

    async def wait_ready(self, timeout: float = 10.0) -> None:
        await self.wait_until(lambda: self._sockets and self.identifies, timeout)

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            op = frame.get("op")
            if op == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2:
                self.identifies += 1
                self._sockets.append(ws)
                await self._send_ready(ws)
            elif op == 6:
                # Resuming is not supported: ask for a fresh identify.
                await ws.send_str(json.dumps({"op": 9, "d": False}))
            elif op == 3:
                self.presences.append(frame.get("d") or {})
                await self._notify()
        if ws in self._sockets:
            self._sockets.remove(ws)
        return ws

    def _frame(self, event: str, data: JSON) -> str:
        self._seq += 1
        return json.dumps({"op": 0, "t": event, "s": self._seq, "d": data})

    async def _send_ready(self, ws: web.WebSocketResponse) -> None:
        ready = {
            "v": 10,
            "user": self.bot_user.payload,
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": f"session-{self.identifies}",
            "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gateway/ws",
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        await ws.send_str(self._frame("READY", ready))
        await ws.send_str(self._frame("GUILD_CREATE", self.guild_payload()))
        await self._notify()

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send a gateway event to every connected bot."""
        for ws in list(self._sockets):
            await ws.send_str(self._frame(event, data))

    # ------------------------------------------------------------------- state

    def guild_payload(self) -> JSON:
        members = [p.member(u.payload, roles=[]) for u in self.users.values()]
        channels = [c.payload for c in self.channels.values() if not c.deleted]
        return p.guild(
            self.guild_id,
            "Hum Club",
            owner_id=self.owner.id,
            channels=channels,
            members=members,
            premium_tier=self.premium_tier,
        )

    def channel_payload(self, channel_id: int | None = None) -> JSON:
        return self.channels[channel_id or self.channel_id].payload

    def delete_channel(self, channel_id: int) -> None:
        self.channels[channel_id].deleted = True

    def member_payload(self, who: FakeUser) -> JSON:
        return p.member(who.payload)

    def upload(
        self,
        filename: str,
        data: bytes,
        content_type: str | None,
        *,
        duration_secs: float | None = None,
        size: int | None = None,
        chunked: bool = False,
    ) -> JSON:
        """Put a file on the fake CDN and return its attachment payload.

        ``size`` overrides the declared size (a lying client); ``chunked`` serves the bytes
        without a Content-Length, so only a streaming cap can stop a large download.
        """
        att_id = p.snowflake()
        path = f"attachments/{self.channel_id}/{att_id}/{filename}"
        self.cdn[path] = (data, content_type or "application/octet-stream")
        if chunked:
            self.chunked.add(path)
        return p.attachment(
            att_id,
            filename,
            f"{self.base_url}/cdn/{path}",
            len(data) if size is None else size,
            content_type,
            duration_secs=duration_secs,
        )

    def post_user_message(
        self,
        author: FakeUser,
        *,
        content: str = "",
        attachments: list[JSON] | None = None,
        voice: bool = False,
        channel_id: int | None = None,
    ) -> JSON:
        """A message a user posted (stored; not dispatched — see ``dispatch_message``)."""
        cid = channel_id or self.channel_id
        msg = p.message(
            p.snowflake(),
            cid,
            author.payload,
            guild_id=self.guild_id,
            content=content,
            attachments=attachments,
            flags=p.VOICE_MESSAGE_FLAG if voice else 0,
        )
        self.messages[int(msg["id"])] = msg
        self.channels[cid].messages.append(int(msg["id"]))
        return msg

    async def dispatch_message(self, msg: JSON) -> None:
        data = dict(msg, member=p.member(msg["author"]))
        await self.dispatch("MESSAGE_CREATE", data)

    # ------------------------------------------------------------- interactions

    async def _interact(
        self,
        kind: int,
        who: FakeUser,
        data: JSON,
        *,
        message: JSON | None = None,
        channel_id: int | None = None,
    ) -> SentInteraction:
        channel = self.channel_payload(channel_id)
        perms = p.ALL_PERMISSIONS if who.admin else p.MEMBER_PERMISSIONS
        payload = p.interaction(
            kind=kind,
            application_id=self.application_id,
            guild_id=self.guild_id,
            channel=channel,
            invoker=self.member_payload(who),
            data=data,
            message=message,
            permissions=perms,
        )
        sent = SentInteraction(payload=payload, sent_at=time.monotonic())
        self.interactions[sent.token] = sent
        await self.dispatch("INTERACTION_CREATE", payload)
        return sent

    def _command_id(self, name: str) -> str:
        for cmds in self.commands.values():
            for cmd in cmds:
                if cmd["name"] == name:
                    return str(cmd["id"])
        return str(p.snowflake())

    async def slash(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        who: FakeUser | None = None,
        attachments: dict[str, JSON] | None = None,
        subcommand: str | None = None,
        channel_id: int | None = None,
    ) -> SentInteraction:
        """Invoke ``/name`` with ``options`` (str/int/float/bool); attachments by option name."""
        opts: list[JSON] = []
        resolved: JSON = {}
        for key, value in (options or {}).items():
            opts.append({"name": key, "type": _option_type(value), "value": value})
        for key, att in (attachments or {}).items():
            opts.append({"name": key, "type": 11, "value": att["id"]})
            resolved.setdefault("attachments", {})[att["id"]] = att
        if subcommand is not None:
            opts = [{"name": subcommand, "type": 1, "options": opts}]
        data: JSON = {"id": self._command_id(name), "name": name, "type": p.CHAT_INPUT}
        data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        data["guild_id"] = str(self.guild_id)
        return await self._interact(
            p.APPLICATION_COMMAND, who or self.alice, data, channel_id=channel_id
        )

    async def autocomplete(
        self, name: str, options: dict[str, Any], focused: str, *, who: FakeUser | None = None
    ) -> SentInteraction:
        opts = [
            {
                "name": k,
                "type": _option_type(v),
                "value": v,
                **({"focused": True} if k == focused else {}),
            }
            for k, v in options.items()
        ]
        data: JSON = {
            "id": self._command_id(name),
            "name": name,
            "type": p.CHAT_INPUT,
            "options": opts,
        }
        return await self._interact(p.AUTOCOMPLETE, who or self.alice, data)

    async def context_menu(
        self, name: str, target: JSON, *, who: FakeUser | None = None
    ) -> SentInteraction:
        data: JSON = {
            "id": self._command_id(name),
            "name": name,
            "type": p.MESSAGE_COMMAND,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: target}},
        }
        return await self._interact(p.APPLICATION_COMMAND, who or self.alice, data)

    async def click(
        self, custom_id: str, message: JSON, *, who: FakeUser | None = None
    ) -> SentInteraction:
        data: JSON = {"custom_id": custom_id, "component_type": 2}
        return await self._interact(p.MESSAGE_COMPONENT, who or self.alice, data, message=message)

    async def submit_modal(
        self,
        custom_id: str,
        values: dict[str, str],
        *,
        who: FakeUser | None = None,
        message: JSON | None = None,
    ) -> SentInteraction:
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in values.items()
        ]
        data: JSON = {"custom_id": custom_id, "components": rows}
        return await self._interact(p.MODAL_SUBMIT, who or self.alice, data, message=message)

    def expire(self, sent: SentInteraction) -> None:
        """Make this interaction's token dead, as Discord does after 15 minutes."""
        sent.expired = True

    # --------------------------------------------------------------- inspection

    def requests_for(self, sent: SentInteraction) -> list[RecordedRequest]:
        """Every request answering ``sent`` (callback, followups, edits of @original)."""
        token = sent.token
        return [r for r in self.requests if token in r.path]

    def followups(self, sent: SentInteraction) -> list[RecordedRequest]:
        prefix = f"/webhooks/{self.application_id}/{sent.token}"
        return [r for r in self.requests if r.method == "POST" and r.path == prefix]

    def edits(self, sent: SentInteraction) -> list[RecordedRequest]:
        prefix = f"/webhooks/{self.application_id}/{sent.token}/messages/"
        return [r for r in self.requests if r.method == "PATCH" and r.path.startswith(prefix)]

    def channel_posts(self, channel_id: int | None = None) -> list[RecordedRequest]:
        cid = channel_id or self.channel_id
        return [
            r
            for r in self.requests
            if r.method == "POST" and r.path == f"/channels/{cid}/messages" and r.status == 200
        ]

    def messages_with_files(self) -> list[JSON]:
        return [m for mid, m in self.messages.items() if self.message_files.get(mid)]

    # --------------------------------------------------------------------- REST

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        self._record(request, None, [])
        if path not in self.cdn:
            return web.Response(status=404, text="not found")
        data, ctype = self.cdn[path]
        if path not in self.chunked:
            return web.Response(body=data, headers={"Content-Type": ctype})
        stream = web.StreamResponse(headers={"Content-Type": ctype})
        stream.enable_chunked_encoding()
        await stream.prepare(request)
        try:
            for start in range(0, len(data), 256 * 1024):
                await stream.write(data[start : start + 256 * 1024])
            await stream.write_eof()
        except (ConnectionResetError, RuntimeError):
            pass  # the client stopped reading: that's the point of a streaming cap
        return stream

    def _record(
        self, request: web.Request, body: Any, files: list[UploadedFile]
    ) -> RecordedRequest:
        path = request.path.removeprefix("/api/v10")
        rec = RecordedRequest(
            request.method, path, dict(request.query), body, files, time.monotonic()
        )
        self.requests.append(rec)
        return rec

    async def _read_body(self, request: web.Request) -> tuple[Any, list[UploadedFile]]:
        if request.content_type.startswith("multipart/"):
            body: Any = None
            files: list[UploadedFile] = []
            reader = await request.multipart()
            async for part in reader:
                if part is None:
                    break
                raw = await part.read()  # type: ignore[union-attr]
                name = part.name or ""
                if name == "payload_json":
                    body = json.loads(raw)
                else:
                    files.append(
                        UploadedFile(
                            name,
                            part.filename or "",  # type: ignore[union-attr]
                            part.headers.get("Content-Type", "application/octet-stream"),
                            bytes(raw),
                        )
                    )
            return body, files
        if request.can_read_body:
            text = await request.text()
            return (json.loads(text) if text else None), []
        return None, []

    async def _api(self, request: web.Request) -> web.StreamResponse:
        body, files = await self._read_body(request)
        rec = self._record(request, body, files)
        try:
            response = await self._route(request.method, rec.path.strip("/").split("/"), rec)
        except Exception:  # the fake must never hide a bug as a hang
            log.exception("fake discord route failed: %s %s", request.method, rec.path)
            response = _error(500, 0, "fake discord crashed")
        rec.status = response.status
        if isinstance(response.body, bytes) and response.content_type == "application/json":
            rec.response = json.loads(response.body)
        await self._notify()
        return response

    async def _route(self, method: str, parts: list[str], rec: RecordedRequest) -> web.Response:
        match (method, parts):
            case ("GET", ["gateway"]) | ("GET", ["gateway", "bot"]):
                return _json(
                    {
                        "url": f"ws://127.0.0.1:{self.port}/gateway/ws",
                        "shards": 1,
                        "session_start_limit": {
                            "total": 1000,
                            "remaining": 999,
                            "reset_after": 0,
                            "max_concurrency": 1,
                        },
                    }
                )
            case ("GET", ["users", "@me"]):
                return _json(self.bot_user.payload)
            case ("GET", ["oauth2", "applications", "@me"]) | ("GET", ["applications", "@me"]):
                return _json(self._app_info())
            case ("PUT", ["applications", _, "commands"]):
                return _json(self._sync("global", rec.json or []))
            case ("PUT", ["applications", _, "guilds", gid, "commands"]):
                return _json(self._sync(gid, rec.json or []))
            case ("GET", ["applications", _, "commands"]):
                return _json(self.commands.get("global", []))
            case ("POST", ["interactions", iid, token, "callback"]):
                return self._callback(int(iid), token, rec)
            case ("POST", ["webhooks", _, token]):
                return self._followup(token, rec)
            case ("GET", ["webhooks", _, token, "messages", mid]):
                return self._webhook_message(token, mid, None)
            case ("PATCH", ["webhooks", _, token, "messages", mid]):
                return self._webhook_message(token, mid, rec)
            case ("DELETE", ["webhooks", _, token, "messages", mid]):
                return self._webhook_delete(token, mid)
            case ("GET", ["channels", cid]):
                ch = self._channel(int(cid))
                return _json(ch.payload) if ch else _error(404, 10003, "Unknown Channel")
            case ("POST", ["channels", cid, "messages"]):
                return self._channel_post(int(cid), rec)
            case ("GET", ["channels", cid, "messages", mid]):
                return self._get_message(int(cid), int(mid))
            case ("PATCH", ["channels", cid, "messages", mid]):
                return self._edit_message(int(cid), int(mid), rec)
            case ("DELETE", ["channels", cid, "messages", mid]):
                return self._delete_message(int(cid), int(mid))
            case ("GET", ["users", uid]) if uid.isdigit():
                who = self.users.get(int(uid))
                return _json(who.payload) if who else _error(404, 10013, "Unknown User")
            case ("POST", ["users", "@me", "channels"]):
                return self._open_dm(int((rec.json or {})["recipient_id"]))
            case ("GET", ["guilds", gid]):
                return (
                    _json(self.guild_payload())
                    if int(gid) == self.guild_id
                    else _error(404, 10004, "Unknown Guild")
                )
        return _error(404, 0, f"fake discord: no route {method} /{'/'.join(parts)}")

    def _app_info(self) -> JSON:
        return {
            "id": str(self.application_id),
            "name": "humjam",
            "icon": None,
            "description": "hum in, music out",
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner.payload,
            "team": None,
            "verify_key": "00" * 32,
            "flags": 0,
            "interactions_endpoint_url": None,
            "summary": "",
        }

    def _sync(self, scope: str, commands: list[JSON]) -> list[JSON]:
        synced = []
        for cmd in commands:
            synced.append(
                dict(
                    cmd,
                    id=str(p.snowflake()),
                    application_id=str(self.application_id),
                    version=str(p.snowflake()),
                    default_member_permissions=cmd.get("default_member_permissions"),
                    description=cmd.get("description") or "",
                    options=cmd.get("options") or [],
                )
            )
        self.commands[scope] = synced
        return synced

    def _channel(self, cid: int) -> _Channel | None:
        ch = self.channels.get(cid)
        if ch is not None and not ch.deleted:
            return ch
        if cid in self.dm_channels.values():
            return _Channel({"id": str(cid), "type": 1})
        return None

    def _live(self, token: str) -> SentInteraction | None:
        sent = self.interactions.get(token)
        if sent is None or sent.expired:
            return None
        if time.monotonic() - sent.sent_at > self.token_ttl_s:
            return None
        return sent

    def _callback(self, iid: int, token: str, rec: RecordedRequest) -> web.Response:
        sent = self.interactions.get(token)
        if sent is None or sent.id != iid:
            return _error(404, 10062, "Unknown interaction")
        if time.monotonic() - sent.sent_at > 3.0 and sent.acked_at is None:
            # Discord drops interactions not answered within 3 seconds.
            return _error(404, 10062, "Unknown interaction")
        if sent.acked_at is not None:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        sent.acked_at = rec.at
        sent.callback = rec.json
        kind = int((rec.json or {}).get("type", 0))
        data = (rec.json or {}).get("data") or {}
        resource: JSON = {"type": kind}
        if kind in (4, 5):  # message / deferred message: an @original exists
            msg = self._store_message(
                int(sent.payload["channel_id"]),
                data,
                rec.files,
                webhook=True,
                deferred=kind == 5,
            )
            sent.original_message_id = int(msg["id"])
            resource["message"] = msg
        elif kind in (6, 7) and sent.payload.get("message"):
            # a component's (deferred) update: @original is the message the component is on
            target = int(sent.payload["message"]["id"])
            if target in self.messages:
                sent.original_message_id = target
                if kind == 7:
                    self._apply_edit(target, dataclasses.replace(rec, json=data))
                resource["message"] = self.messages[target]
        return _json(
            {
                "interaction": {
                    "id": str(iid),
                    "type": sent.payload["type"],
                    "response_message_id": str(sent.original_message_id)
                    if sent.original_message_id
                    else None,
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": bool(int(data.get("flags", 0)) & 64),
                },
                "resource": resource,
            }
        )

    def _store_message(
        self,
        channel_id: int,
        data: JSON,
        files: list[UploadedFile],
        *,
        webhook: bool,
        deferred: bool = False,
    ) -> JSON:
        mid = p.snowflake()
        attachments = []
        for f in files:
            path = f"attachments/{channel_id}/{p.snowflake()}/{f.filename}"
            self.cdn[path] = (f.data, f.content_type)
            attachments.append(
                p.attachment(
                    p.snowflake(),
                    f.filename,
                    f"{self.base_url}/cdn/{path}",
                    len(f.data),
                    f.content_type,
                )
            )
        msg = p.message(
            mid,
            channel_id,
            self.bot_user.payload,
            guild_id=self.guild_id if channel_id in self.channels else None,
            content=data.get("content") or "",
            attachments=attachments,
            embeds=data.get("embeds") or [],
            components=data.get("components") or [],
            flags=int(data.get("flags") or 0) | (1 << 7 if deferred else 0),
            webhook_id=self.application_id if webhook else None,
            nonce=data.get("nonce"),
        )
        self.messages[mid] = msg
        self.message_files[mid] = list(files)
        if channel_id in self.channels:
            self.channels[channel_id].messages.append(mid)
        return msg

    def _followup(self, token: str, rec: RecordedRequest) -> web.Response:
        sent = self._live(token)
        if sent is None:
            return _error(401, 50027, "Invalid Webhook Token")
        if sent.acked_at is None:
            return _error(404, 10015, "Unknown Webhook")
        msg = self._store_message(
            int(sent.payload["channel_id"]), rec.json or {}, rec.files, webhook=True
        )
        return _json(msg)

    def _webhook_message(self, token: str, mid: str, rec: RecordedRequest | None) -> web.Response:
        sent = self._live(token)
        if sent is None:
            return _error(401, 50027, "Invalid Webhook Token")
        if mid == "@original":
            if sent.original_message_id is None:
                return _error(404, 10008, "Unknown Message")
            message_id = sent.original_message_id
        else:
            message_id = int(mid)
        if message_id not in self.messages:
            return _error(404, 10008, "Unknown Message")
        if rec is None:
            return _json(self.messages[message_id])
        return self._apply_edit(message_id, rec)

    def _apply_edit(self, message_id: int, rec: RecordedRequest) -> web.Response:
        msg = self.messages[message_id]
        body = rec.json or {}
        for key in ("content", "embeds", "components", "flags"):
            if key in body and body[key] is not None:
                msg[key] = body[key]
        if rec.files:
            self.message_files[message_id] = list(rec.files)
        msg["flags"] = int(msg.get("flags") or 0) & ~(1 << 7)  # no longer "thinking"
        msg["edited_timestamp"] = p.iso()
        return _json(msg)

    def _webhook_delete(self, token: str, mid: str) -> web.Response:
        sent = self._live(token)
        if sent is None:
            return _error(401, 50027, "Invalid Webhook Token")
        message_id = sent.original_message_id if mid == "@original" else int(mid)
        if message_id is None or self.messages.pop(message_id, None) is None:
            return _error(404, 10008, "Unknown Message")
        return web.Response(status=204)

    def _channel_post(self, cid: int, rec: RecordedRequest) -> web.Response:
        if self._channel(cid) is None:
            return _error(404, 10003, "Unknown Channel")
        body = rec.json or {}
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            # Discord returns the earlier message for a repeated nonce (a few minutes window).
            for msg in self.messages.values():
                if msg.get("nonce") == nonce and int(msg["channel_id"]) == cid:
                    return _json(msg)
        msg = self._store_message(cid, body, rec.files, webhook=False)
        return _json(msg)

    def _get_message(self, cid: int, mid: int) -> web.Response:
        msg = self.messages.get(mid)
        if msg is None or int(msg["channel_id"]) != cid:
            return _error(404, 10008, "Unknown Message")
        return _json(msg)

    def _edit_message(self, cid: int, mid: int, rec: RecordedRequest) -> web.Response:
        msg = self.messages.get(mid)
        if msg is None or int(msg["channel_id"]) != cid:
            return _error(404, 10008, "Unknown Message")
        return self._apply_edit(mid, rec)

    def _delete_message(self, cid: int, mid: int) -> web.Response:
        msg = self.messages.get(mid)
        if msg is None or int(msg["channel_id"]) != cid:
            return _error(404, 10008, "Unknown Message")
        del self.messages[mid]
        return web.Response(status=204)

    def _open_dm(self, user_id: int) -> web.Response:
        if user_id not in self.users:
            return _error(404, 10013, "Unknown User")
        cid = self.dm_channels.setdefault(user_id, p.snowflake())
        return _json(
            {
                "id": str(cid),
                "type": 1,
                "recipients": [self.users[user_id].payload],
                "last_message_id": None,
            }
        )


def _option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def files_named(req: RecordedRequest, suffixes: Iterable[str]) -> list[UploadedFile]:
    wanted = tuple(suffixes)
    return [f for f in req.files if f.filename.endswith(wanted)]


__all__ = [
    "FakeDiscord",
    "FakeUser",
    "RecordedRequest",
    "SentInteraction",
    "UploadedFile",
]
