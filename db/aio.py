"""One generic sync → async proxy: the bot's view of ``JobQueue`` and ``JamStore``.

``AsyncProxy(obj).method(...)`` runs ``obj.method(...)`` on a worker thread and awaits it, so the
event loop never blocks on the database; plain attributes (``settings``) pass through. One proxy
serves every synchronous store, so an async twin can never drift from its sync original.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Self, TypeVar

T = TypeVar("T")

__all__ = ["AsyncProxy"]


class AsyncProxy(Generic[T]):
    """``obj``'s methods as coroutines (run with ``asyncio.to_thread``); ``sync`` is ``obj``."""

    def __init__(self, sync: T) -> None:
        self.sync = sync

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)  # private and dunder lookups never go to a thread
        attr = getattr(self.sync, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(attr, *args, **kwargs)

        setattr(self, name, call)  # bound once per proxy
        return call

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        close: Callable[[], Awaitable[None]] = self.close
        await close()
