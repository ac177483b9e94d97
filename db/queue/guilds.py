"""Guild settings: per-guild overrides of the queue's limits and the bot's defaults."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from db.dialects import GUILD_COLUMNS
from db.models import guild_settings
from db.queue._core import QueueCore
from db.settings import QueueSettings
from db.types import GuildSettings

_GUILD_ROW = select(guild_settings).where(guild_settings.c.guild_id == bindparam("p_guild"))
#: lower bound of each numeric guild limit, and whether the bound itself is allowed
_GUILD_BOUNDS: dict[str, tuple[float, bool]] = {
    "queue_cap": (1, True),
    "max_queued_per_user": (1, True),
    "max_duration_s": (0, False),
    "daily_quota_s": (0, False),
    "cooldown_s": (0, True),
}
#: jam_max_* overrides: whole numbers in 1..this (a session bigger than this is no jam)
_JAM_LIMIT_MAX = 500
_INT_MAX = 2**31 - 1  # the INTEGER columns' range on PostgreSQL
_BACKEND_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def effective_settings(
    settings: QueueSettings, guild_id: int | None, m: Mapping[Any, Any]
) -> GuildSettings:
    """A guild's effective settings from its ``guild_settings`` values (None: default)."""
    s = settings

    def pick(name: str, default: Any) -> Any:
        value = m.get(name)
        return default if value is None else value

    channels = m.get("allowed_channel_ids")
    if isinstance(channels, str):  # raw SQLite rows carry the JSON text
        channels = json.loads(channels)
    return GuildSettings(
        guild_id=guild_id or 0,
        queue_cap=pick("queue_cap", s.guild_queue_cap),
        max_queued_per_user=pick("max_queued_per_user", s.max_queued_per_user),
        max_duration_s=pick("max_duration_s", s.max_duration_s),
        daily_quota_s=pick("daily_quota_s", s.daily_quota_s),
        cooldown_s=pick("cooldown_s", s.cooldown_s),
        allowed_channel_ids=tuple(int(c) for c in channels or ()),
        default_backend=m.get("default_backend"),
        jam_max_parts=m.get("jam_max_parts"),
        jam_max_members=m.get("jam_max_members"),
        jam_max_renders=m.get("jam_max_renders"),
    )


def check_guild_setting(name: str, value: Any) -> Any:
    """The value to store for one guild setting (None: back to the default), or ValueError."""
    if name not in GUILD_COLUMNS:
        raise ValueError(f"unknown guild setting: {name}")
    if value is None:
        return None
    if name == "allowed_channel_ids":
        if isinstance(value, str | bytes) or not all(
            isinstance(c, int) and not isinstance(c, bool) and 0 < c < 2**63 for c in value
        ):
            raise ValueError("allowed_channel_ids must be a list of positive channel ids")
        # empty means every channel: store NULL so there is one spelling of "no restriction"
        return sorted(set(value)) or None
    if name == "default_backend":
        if not isinstance(value, str) or not _BACKEND_NAME.fullmatch(value):
            raise ValueError("default_backend must be a backend name like 'arranger'")
        return value
    if name.startswith("jam_max_"):
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 1 <= value <= _JAM_LIMIT_MAX
        ):
            raise ValueError(f"{name} must be a whole number from 1 to {_JAM_LIMIT_MAX}")
        return value
    low, inclusive = _GUILD_BOUNDS[name]
    integral = name in ("queue_cap", "max_queued_per_user")
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (integral and not (isinstance(value, int) and value <= _INT_MAX))
        or not math.isfinite(value)
        or not (value >= low if inclusive else value > low)
    ):
        raise ValueError(f"{name} must be a number {'≥' if inclusive else '>'} {low}")
    return value


class Guilds(QueueCore):
    def _guild_limits(self, conn: Connection, guild_id: int | None) -> GuildSettings:
        row = None
        if guild_id is not None:
            row = conn.execute(_GUILD_ROW, {"p_guild": guild_id}).first()
        return effective_settings(self.settings, guild_id, row._mapping if row is not None else {})

    def guild_settings(self, guild_id: int) -> GuildSettings:
        with self._read() as conn:
            return self._guild_limits(conn, guild_id)

    def update_guild_settings(self, guild_id: int, **changes: Any) -> GuildSettings:
        """Override limits or bot settings for one guild; a value of None restores the default.

        Raises ``ValueError`` for an unknown setting or a value out of range.
        """
        values = {name: check_guild_setting(name, v) for name, v in changes.items()}
        now = self._clock()
        with self._write() as conn:
            exists = conn.execute(
                select(guild_settings.c.guild_id).where(guild_settings.c.guild_id == guild_id)
            ).first()
            if exists is None:
                conn.execute(insert(guild_settings).values(guild_id=guild_id, updated_at=now))
            if values:
                conn.execute(
                    update(guild_settings)
                    .where(guild_settings.c.guild_id == guild_id)
                    .values(updated_at=now, **values)
                )
            return self._guild_limits(conn, guild_id)
