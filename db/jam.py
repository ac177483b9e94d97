"""Jam sessions in the database: the only API for jam sessions, their parts and votes.

Rows become frozen ``JamSession`` / ``JamPartInfo`` values; callers never see ORM objects or SQL.
``JamStore`` is synchronous (the worker); ``AsyncJamStore`` runs it on threads for the bot.

Errors (all ``db.errors.QueueError``, each with a stable ``code`` and a user-facing message)::

    JamError
    ├── JamNotFound       no such session (or thread is not a jam)
    ├── JamClosed         the session has ended
    ├── JamLimitReached   parts / members / renders limit of the session
    └── NotJamHost        only the host or an admin may do that
"""

from __future__ import annotations

import contextlib
import enum
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Engine, Row, Table, delete, func, insert, select, update

from db import migrate, models
from db.aio import AsyncProxy
from db.dialects import for_url
from db.errors import QueueError, translate_driver_errors
from db.transactions import read_connection, write_transaction

__all__ = [
    "ROLES",
    "AsyncJamStore",
    "JamClosed",
    "JamError",
    "JamLimitReached",
    "JamLimits",
    "JamNotFound",
    "JamPartInfo",
    "JamSession",
    "JamStore",
    "NotJamHost",
    "PartStatus",
    "Role",
    "key_tonic",
    "normalise_key",
]

# Declarative ``__table__`` is typed as a FromClause; these are Tables.
jam_sessions = cast(Table, models.jam_sessions)
jam_parts = cast(Table, models.jam_parts)
jam_votes = cast(Table, models.jam_votes)


class Role(enum.StrEnum):
    """What a part does in the song (the one list: the bot's choices, the stored parts and the
    generator's song form all use it). Lead roles fill form slots; layers play along."""

    MELODY = "melody"
    COUNTER_MELODY = "counter-melody"
    BASS_LINE = "bass line"
    CHORUS = "chorus"
    VERSE = "verse"
    BRIDGE = "bridge"

    @property
    def is_layer(self) -> bool:
        return self in (Role.COUNTER_MELODY, Role.BASS_LINE)


#: the roles a part can take, as stored
ROLES = tuple(r.value for r in Role)


class JamError(QueueError):
    """That jam session can't do this."""

    code = "jam_error"


class JamNotFound(JamError):
    """This jam session doesn't exist (any more)."""

    code = "jam_not_found"


class JamClosed(JamError):
    """This jam session has ended; start a new one with /jam start."""

    code = "jam_closed"


class JamLimitReached(JamError):
    """This jam session is full."""

    code = "jam_limit"


class NotJamHost(JamError):
    """Only the session's host or a server admin can do that."""

    code = "jam_not_host"


class PartStatus(enum.StrEnum):
    PENDING = "pending"  # queued for analysis/rendering
    READY = "ready"  # notes stored, playable in the mix
    FAILED = "failed"  # the hum could not be used


@dataclass(frozen=True)
class JamLimits:
    """Per-session limits (admins configure the defaults; copied into each session at start)."""

    max_parts: int = 24
    max_members: int = 12
    max_renders: int = 20


@dataclass(frozen=True)
class JamSession:
    id: int
    guild_id: int
    channel_id: int
    thread_id: int | None
    host_id: int
    name: str
    style: str
    key: str
    bpm: float
    beats_per_bar: int
    length_s: float
    status: str  # open | ended
    card_message_id: int | None
    limits: JamLimits
    renders: int
    created_at: float
    ended_at: float | None
    backend: str = "arranger"  # what renders the mixes: arranger | musicgen

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @classmethod
    def from_row(cls, r: Row[Any]) -> JamSession:
        return cls(
            id=r.id, guild_id=r.guild_id, channel_id=r.channel_id, thread_id=r.thread_id,
            host_id=r.host_id, name=r.name, style=r.style, key=r.key, bpm=r.bpm,
            beats_per_bar=r.beats_per_bar, length_s=r.length_s, status=r.status,
            card_message_id=r.card_message_id,
            limits=JamLimits(r.max_parts, r.max_members, r.max_renders), renders=r.renders,
            created_at=r.created_at, ended_at=r.ended_at, backend=r.backend,
        )  # fmt: skip


@dataclass(frozen=True)
class JamPartInfo:
    id: int
    session_id: int
    member_id: int
    member_name: str
    role: str
    status: PartStatus
    job_id: int | None
    source_message_id: int | None
    message_id: int | None
    notes: list[Any] | None  # [[start_beat, beats, pitch, velocity], ...] in the session key
    votes: int
    created_at: float

    @classmethod
    def from_row(cls, r: Row[Any], votes: int) -> JamPartInfo:
        return cls(
            id=r.id, session_id=r.session_id, member_id=r.member_id, member_name=r.member_name,
            role=r.role, status=PartStatus(r.status), job_id=r.job_id,
            source_message_id=r.source_message_id, message_id=r.message_id, notes=r.notes,
            votes=votes, created_at=r.created_at,
        )  # fmt: skip


_KEY_RE = re.compile(
    r"^\s*([A-Ga-g])\s*(#|b|♯|♭|[- ]?sharp|[- ]?flat)?\s*(major|minor|maj|min|m)?\s*$",
    re.IGNORECASE,
)
_ACCIDENTAL = {"#": 1, "♯": 1, "sharp": 1, "b": -1, "♭": -1, "flat": -1}
_SPELLING = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_NATURAL = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def normalise_key(text: str) -> str:
    """``"dm"``, ``"D minor"``, ``"f#"``, ``"F♯ minor"``, ``"B flat"`` → ``"D minor"`` /
    ``"F# major"`` / …; else ``ValueError``. The one key parser: the bot's options, the jam
    sessions and the arranger's prompt reading all end here."""
    m = _KEY_RE.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a key; try 'D minor' or 'Bb major'")
    letter, accidental, mode = m.groups()
    shift = _ACCIDENTAL[accidental.strip(" -").lower()] if accidental else 0
    pc = (_NATURAL[letter.upper()] + shift) % 12
    # "CM" is C major by convention; "Cm", "C min", "C minor" are minor
    minor = mode is not None and mode != "M" and mode.lower() in ("m", "min", "minor")
    return f"{_SPELLING[pc]} {'minor' if minor else 'major'}"


def forget_member_rows(conn: Connection, user_id: int) -> int:
    """Delete the member's takes and votes in ``conn``'s transaction; sessions they host lose
    their host (admins can still end them). Returns the number of takes deleted."""
    ids = [
        r[0] for r in conn.execute(select(jam_parts.c.id).where(jam_parts.c.member_id == user_id))
    ]
    if ids:  # votes first: SQLite connections without FK enforcement must not orphan them
        conn.execute(delete(jam_votes).where(jam_votes.c.part_id.in_(ids)))
        conn.execute(delete(jam_parts).where(jam_parts.c.id.in_(ids)))
    conn.execute(delete(jam_votes).where(jam_votes.c.voter_id == user_id))
    conn.execute(update(jam_sessions).where(jam_sessions.c.host_id == user_id).values(host_id=0))
    return len(ids)


def key_tonic(text: str) -> tuple[int, bool]:
    """``"D minor"`` → ``(2, True)``: the tonic's pitch class and whether the key is minor."""
    tonic, mode = normalise_key(text).split()
    return _SPELLING.index(tonic), mode == "minor"


class JamStore:
    """Jam sessions on the queue's database (same engine, same migrations)."""

    def __init__(self, engine: Engine, *, clock: Any = time.time) -> None:
        self._engine = engine
        self._clock = clock

    # -- helpers -------------------------------------------------------------------------------

    @classmethod
    def connect(cls, url: str) -> JamStore:
        """Open the database at ``url`` with the queue's engine setup, migrated to head."""
        engine = for_url(url).create_engine(url)
        with translate_driver_errors():
            migrate.upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        self._engine.dispose()

    def _write(self) -> contextlib.AbstractContextManager[Connection]:
        return write_transaction(self._engine)

    def _read(self) -> contextlib.AbstractContextManager[Connection]:
        return read_connection(self._engine)

    @staticmethod
    def _session(conn: Connection, session_id: int, *, lock: bool = False) -> JamSession:
        q = select(jam_sessions).where(jam_sessions.c.id == session_id)
        if lock and conn.dialect.name == "postgresql":
            q = q.with_for_update()  # serialise adds/renders on one session
        row = conn.execute(q).first()
        if row is None:
            raise JamNotFound()
        return JamSession.from_row(row)

    @staticmethod
    def _votes(conn: Connection, part_ids: Sequence[int]) -> dict[int, int]:
        if not part_ids:
            return {}
        q = (
            select(jam_votes.c.part_id, func.count())
            .where(jam_votes.c.part_id.in_(list(part_ids)))
            .group_by(jam_votes.c.part_id)
        )
        return {pid: n for pid, n in conn.execute(q).all()}

    def _part(self, conn: Connection, part_id: int) -> JamPartInfo:
        row = conn.execute(select(jam_parts).where(jam_parts.c.id == part_id)).first()
        if row is None:
            raise JamNotFound("That part doesn't exist (any more).")
        return JamPartInfo.from_row(row, self._votes(conn, [part_id]).get(part_id, 0))

    # -- sessions ------------------------------------------------------------------------------

    def start(
        self,
        *,
        guild_id: int,
        channel_id: int,
        host_id: int,
        name: str,
        style: str,
        key: str,
        bpm: float,
        length_s: float,
        beats_per_bar: int = 4,
        thread_id: int | None = None,
        limits: JamLimits = JamLimits(),
        backend: str = "arranger",
    ) -> JamSession:
        values = dict(
            guild_id=guild_id, channel_id=channel_id, thread_id=thread_id, host_id=host_id,
            name=name[:100], style=style[:200], key=normalise_key(key), bpm=float(bpm),
            beats_per_bar=beats_per_bar, length_s=float(length_s), status="open",
            max_parts=limits.max_parts, max_members=limits.max_members,
            max_renders=limits.max_renders, renders=0, created_at=self._clock(),
            backend=backend,
        )  # fmt: skip
        with self._write() as conn:
            sid = conn.execute(
                insert(jam_sessions).values(values).returning(jam_sessions.c.id)
            ).scalar_one()
            return self._session(conn, sid)

    def get(self, session_id: int) -> JamSession:
        with self._read() as conn:
            return self._session(conn, session_id)

    def by_thread(self, thread_id: int) -> JamSession | None:
        with self._read() as conn:
            row = conn.execute(
                select(jam_sessions).where(jam_sessions.c.thread_id == thread_id)
            ).first()
            return JamSession.from_row(row) if row is not None else None

    def sessions(self, guild_id: int, *, open_only: bool = True) -> list[JamSession]:
        q = select(jam_sessions).where(jam_sessions.c.guild_id == guild_id)
        if open_only:
            q = q.where(jam_sessions.c.status == "open")
        with self._read() as conn:
            return [JamSession.from_row(r) for r in conn.execute(q.order_by(jam_sessions.c.id))]

    def set_thread(self, session_id: int, thread_id: int) -> None:
        self._update_session(session_id, thread_id=thread_id)

    def set_card(self, session_id: int, message_id: int) -> None:
        self._update_session(session_id, card_message_id=message_id)

    def _update_session(self, session_id: int, **values: Any) -> None:
        with self._write() as conn:
            n = conn.execute(
                update(jam_sessions).where(jam_sessions.c.id == session_id).values(values)
            ).rowcount
            if not n:
                raise JamNotFound()

    def use_render(self, session_id: int) -> JamSession:
        """Count one mix render against the session's limit (refused once it is spent)."""
        with self._write() as conn:
            s = self._session(conn, session_id, lock=True)
            if not s.is_open:
                raise JamClosed()
            if s.renders >= s.limits.max_renders:
                raise JamLimitReached(
                    f"This session has used all {s.limits.max_renders} of its mixes; "
                    "the host can still end it with /jam end."
                )
            conn.execute(
                update(jam_sessions).where(jam_sessions.c.id == session_id)
                .values(renders=jam_sessions.c.renders + 1)
            )  # fmt: skip
            return self._session(conn, session_id)

    def end(self, session_id: int, user_id: int, *, is_admin: bool = False) -> JamSession:
        """Close the session (host or admin). Ending twice is a no-op that returns the session."""
        with self._write() as conn:
            s = self._session(conn, session_id, lock=True)
            if user_id != s.host_id and not is_admin:
                raise NotJamHost()
            if s.is_open:
                conn.execute(
                    update(jam_sessions).where(jam_sessions.c.id == session_id)
                    .values(status="ended", ended_at=self._clock())
                )  # fmt: skip
            return self._session(conn, session_id)

    # -- parts ---------------------------------------------------------------------------------

    def add_part(
        self,
        session_id: int,
        *,
        member_id: int,
        member_name: str,
        role: str,
        source_message_id: int | None = None,
    ) -> JamPartInfo:
        """Add a pending take, checking the session is open and within its limits.

        A take from the same source message is returned, not added twice (gateway replays).
        """
        if role not in ROLES:
            raise JamError(f"Unknown role {role!r}; choose one of: {', '.join(ROLES)}.")
        with self._write() as conn:
            s = self._session(conn, session_id, lock=True)
            if source_message_id is not None:
                row = conn.execute(
                    select(jam_parts.c.id).where(
                        jam_parts.c.session_id == session_id,
                        jam_parts.c.source_message_id == source_message_id,
                    )
                ).first()
                if row is not None:
                    return self._part(conn, row.id)
            if not s.is_open:
                raise JamClosed()
            count, members = conn.execute(
                select(func.count(), func.count(jam_parts.c.member_id.distinct())).where(
                    jam_parts.c.session_id == session_id,
                    jam_parts.c.status != PartStatus.FAILED.value,
                )
            ).one()
            if count >= s.limits.max_parts:
                raise JamLimitReached(f"This session already has its {s.limits.max_parts} parts.")
            is_member = conn.execute(
                select(func.count()).where(
                    jam_parts.c.session_id == session_id, jam_parts.c.member_id == member_id
                )
            ).scalar_one()
            if not is_member and members >= s.limits.max_members:
                raise JamLimitReached(
                    f"This session already has {s.limits.max_members} members; join the next one!"
                )
            pid = conn.execute(
                insert(jam_parts).values(
                    session_id=session_id, member_id=member_id, member_name=member_name[:100],
                    role=role, status=PartStatus.PENDING.value,
                    source_message_id=source_message_id, created_at=self._clock(),
                ).returning(jam_parts.c.id)
            ).scalar_one()  # fmt: skip
            return self._part(conn, pid)

    def part(self, part_id: int) -> JamPartInfo:
        with self._read() as conn:
            return self._part(conn, part_id)

    def parts(self, session_id: int) -> list[JamPartInfo]:
        with self._read() as conn:
            rows = conn.execute(
                select(jam_parts)
                .where(jam_parts.c.session_id == session_id)
                .order_by(jam_parts.c.id)
            ).all()
            votes = self._votes(conn, [r.id for r in rows])
            return [JamPartInfo.from_row(r, votes.get(r.id, 0)) for r in rows]

    def attach_job(self, part_id: int, job_id: int) -> None:
        self._update_part(part_id, job_id=job_id)

    def set_part_notes(self, part_id: int, notes: list[Any]) -> None:
        """The worker's result: the take's notes in the session key; the part becomes playable."""
        self._update_part(part_id, notes=notes, status=PartStatus.READY.value)

    def fail_part(self, part_id: int) -> None:
        self._update_part(part_id, status=PartStatus.FAILED.value)

    def set_part_message(self, part_id: int, message_id: int) -> None:
        self._update_part(part_id, message_id=message_id)

    def _update_part(self, part_id: int, **values: Any) -> None:
        with self._write() as conn:
            n = conn.execute(
                update(jam_parts).where(jam_parts.c.id == part_id).values(values)
            ).rowcount
            if not n:
                raise JamNotFound("That part doesn't exist (any more).")

    def part_by_message(self, message_id: int) -> JamPartInfo | None:
        """The take posted in ``message_id`` (a reaction there is a vote), if any."""
        with self._read() as conn:
            row = conn.execute(
                select(jam_parts.c.id).where(jam_parts.c.message_id == message_id)
            ).first()
            return self._part(conn, row.id) if row is not None else None

    def forget_member(self, user_id: int) -> int:
        """/forget's jam half on its own (``JobQueue.forget_user`` does both in one transaction).
        Returns the number of takes deleted."""
        with self._write() as conn:
            return forget_member_rows(conn, user_id)

    # -- votes ---------------------------------------------------------------------------------

    def vote(self, part_id: int, voter_id: int) -> int:
        """Count ``voter_id``'s vote for the take (once; not for your own). Returns its votes."""
        with self._write() as conn:
            p = self._part(conn, part_id)
            if p.member_id != voter_id:
                exists = conn.execute(
                    select(func.count()).where(
                        jam_votes.c.part_id == part_id, jam_votes.c.voter_id == voter_id
                    )
                ).scalar_one()
                if not exists:
                    conn.execute(
                        insert(jam_votes).values(
                            part_id=part_id, voter_id=voter_id, created_at=self._clock()
                        )
                    )
            return self._votes(conn, [part_id]).get(part_id, 0)

    def unvote(self, part_id: int, voter_id: int) -> int:
        with self._write() as conn:
            conn.execute(
                delete(jam_votes).where(
                    jam_votes.c.part_id == part_id, jam_votes.c.voter_id == voter_id
                )
            )
            return self._votes(conn, [part_id]).get(part_id, 0)


class AsyncJamStore(AsyncProxy[JamStore]):
    """``JamStore`` for the bot's event loop: each call runs on a worker thread (``db.aio``)."""
