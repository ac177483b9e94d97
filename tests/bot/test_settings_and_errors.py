"""Settings keep the token secret; queue and command errors map to friendly, coded messages."""

from __future__ import annotations

import pytest
from discord import app_commands

from bot.errors import UserFacingError
from bot.settings import BotSettings
from bot.tree import to_user_facing
from db import errors as qerr


def test_token_comes_from_env_and_never_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUMJAM_DISCORD_TOKEN", "super.secret.token")
    monkeypatch.setenv("HUMJAM_MAX_HUM_S", "30")
    settings = BotSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.discord_token.get_secret_value() == "super.secret.token"
    assert settings.max_hum_s == 30.0
    assert "super.secret" not in repr(settings) and "super.secret" not in str(settings)
    assert "super.secret" not in settings.model_dump_json()


@pytest.mark.parametrize(
    ("error", "code", "words"),
    [
        (qerr.AdmissionRefused("cooldown", "Slow down.", retry_after_s=65), "cooldown", "1m 05s"),
        (qerr.JobNotFound(), "job_not_found", "can't find"),
        (qerr.NotAllowed("You can only cancel your own tracks."), "not_allowed", "your own"),
        (qerr.DatabaseUnavailable(), "database_unavailable", "try again"),
        (app_commands.NoPrivateMessage(), "guild_only", "server"),
        (app_commands.MissingPermissions(["manage_guild"]), "forbidden", "permission"),
    ],
)
def test_known_errors_become_user_facing(error: Exception, code: str, words: str) -> None:
    friendly = to_user_facing(error)
    assert friendly is not None and friendly.code == code and words in friendly.message


def test_wrapped_errors_are_unwrapped_and_bugs_stay_unexpected() -> None:
    cmd = app_commands.Command(name="x", description="x", callback=_noop)
    inner = UserFacingError("prompt_empty", "Describe the sound.")
    friendly = to_user_facing(app_commands.CommandInvokeError(cmd, inner))
    assert friendly is inner
    assert to_user_facing(app_commands.CommandInvokeError(cmd, KeyError("bug"))) is None
    assert to_user_facing(ZeroDivisionError()) is None


async def _noop(interaction) -> None:  # type: ignore[no-untyped-def]
    """A callback to build a Command from."""


def test_bot_queue_and_generator_share_one_prompt_limit() -> None:
    from bot.settings import BotSettings
    from db.settings import QueueSettings
    from generator.settings import GeneratorSettings

    bot = BotSettings(_env_file=None)  # type: ignore[call-arg]
    gen = GeneratorSettings(_env_file=None)  # type: ignore[call-arg]
    api = QueueSettings(_env_file=None)  # type: ignore[call-arg]
    assert bot.max_prompt_chars == gen.max_prompt_chars == api.max_prompt_chars
