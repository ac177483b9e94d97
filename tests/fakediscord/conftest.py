from tests.fakediscord.fixtures import fake_discord, fake_discord_class

__all__ = ["fake_discord", "fake_discord_class"]
