"""Builders for Discord API payloads (users, guilds, channels, messages, interactions).

Pure functions returning the JSON dicts Discord would send; the shapes follow the API
documentation closely enough for discord.py to parse them. Snowflakes carry real timestamps.
"""

from __future__ import annotations

import itertools
import secrets
import time
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1420070400000
_counter = itertools.count()

JSON = dict[str, Any]

# Interaction and component type numbers (Discord API).
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3
VOICE_MESSAGE_FLAG = 1 << 13
ADMINISTRATOR = 1 << 3
# Discord sends administrators every permission bit (computed permissions).
ALL_PERMISSIONS = (1 << 51) - 1
# Everything a normal member may do (send, attach, read history, use app commands ...).
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 31)


def snowflake(at: float | None = None) -> int:
    """A unique snowflake whose timestamp is ``at`` (default: now), like Discord's."""
    ms = int((time.time() if at is None else at) * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | (next(_counter) % (1 << 22))


def iso(at: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if at is None else at, UTC).isoformat()


def user(user_id: int, name: str, *, bot: bool = False) -> JSON:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


def member(user_payload: JSON, *, roles: list[int] | None = None, permissions: int = 0) -> JSON:
    data: JSON = {
        "user": user_payload,
        "roles": [str(r) for r in roles or []],
        "joined_at": iso(),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "nick": None,
    }
    if permissions:
        data["permissions"] = str(permissions)
    return data


def text_channel(channel_id: int, guild_id: int, name: str, position: int = 0) -> JSON:
    return {
        "id": str(channel_id),
        "guild_id": str(guild_id),
        "type": 0,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
    }


def guild(
    guild_id: int,
    name: str,
    *,
    owner_id: int,
    channels: list[JSON],
    members: list[JSON],
    premium_tier: int = 0,
) -> JSON:
    return {
        "id": str(guild_id),
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": str(owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [
            {
                "id": str(guild_id),
                "name": "@everyone",
                "permissions": str(MEMBER_PERMISSIONS),
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
                "flags": 0,
            }
        ],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "joined_at": iso(),
        "large": False,
        "unavailable": False,
        "member_count": len(members),
        "voice_states": [],
        "members": members,
        "channels": channels,
        "threads": [],
        "presences": [],
        "max_members": 500000,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": premium_tier,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def attachment(
    attachment_id: int,
    filename: str,
    url: str,
    size: int,
    content_type: str | None,
    *,
    duration_secs: float | None = None,
    waveform: str | None = None,
) -> JSON:
    data: JSON = {
        "id": str(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
    }
    if content_type is not None:
        data["content_type"] = content_type
    if duration_secs is not None:
        data["duration_secs"] = duration_secs
        data["waveform"] = waveform or "AAAA"
    return data


def message(
    message_id: int,
    channel_id: int,
    author: JSON,
    *,
    guild_id: int | None = None,
    content: str = "",
    attachments: list[JSON] | None = None,
    embeds: list[JSON] | None = None,
    components: list[JSON] | None = None,
    flags: int = 0,
    webhook_id: int | None = None,
    interaction_metadata: JSON | None = None,
    nonce: str | int | None = None,
) -> JSON:
    data: JSON = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": author,
        "content": content,
        "timestamp": iso(((message_id >> 22) + DISCORD_EPOCH_MS) / 1000),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": attachments or [],
        "embeds": embeds or [],
        "components": components or [],
        "pinned": False,
        "type": 0,
        "flags": flags,
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    if webhook_id is not None:
        data["webhook_id"] = str(webhook_id)
    if interaction_metadata is not None:
        data["interaction_metadata"] = interaction_metadata
    if nonce is not None:
        data["nonce"] = nonce
    return data


def interaction(
    *,
    kind: int,
    application_id: int,
    guild_id: int | None,
    channel: JSON,
    invoker: JSON,
    data: JSON | None = None,
    message: JSON | None = None,
    permissions: int = MEMBER_PERMISSIONS,
    app_permissions: int = MEMBER_PERMISSIONS | (1 << 13),
) -> JSON:
    """An INTERACTION_CREATE payload; ``invoker`` is a member payload (guild) or a user (DM)."""
    payload: JSON = {
        "id": str(snowflake()),
        "application_id": str(application_id),
        "type": kind,
        "token": "itok_" + secrets.token_urlsafe(48),
        "version": 1,
        "channel_id": channel["id"],
        "channel": channel,
        "locale": "en-US",
        "app_permissions": str(app_permissions),
        "entitlements": [],
        "authorizing_integration_owners": {"0": channel.get("guild_id", "0")},
        "context": 0 if guild_id is not None else 1,
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if data is not None:
        payload["data"] = data
    if message is not None:
        payload["message"] = message
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
        payload["guild_locale"] = "en-US"
        payload["member"] = dict(invoker, permissions=str(permissions))
    else:
        payload["user"] = invoker
    return payload
