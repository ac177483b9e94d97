"""A local fake Discord (gateway + REST + CDN) for end-to-end tests on the real discord.py client.

``FakeDiscord`` is the server; ``fixtures`` holds the ``fake_discord`` fixture and ``running``.
It knows nothing about humjam, so any cog can reuse it.
"""

from tests.fakediscord.server import FakeDiscord, FakeUser, RecordedRequest, SentInteraction

__all__ = ["FakeDiscord", "FakeUser", "RecordedRequest", "SentInteraction"]
