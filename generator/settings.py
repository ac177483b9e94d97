"""Generator settings (env prefix ``HUMJAM_``; a ``.env`` file is read too)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from db.types import MAX_PROMPT_CHARS

#: Debian's musescore-general-soundfont (SF3: Vorbis-compressed, decoded at load) — the better
#: instruments — then fluid-soundfont-gm's FluidR3 as the fallback. scripts/setup.sh and the
#: Dockerfile install both.
SOUNDFONTS = (
    Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
)


def _default_soundfont() -> Path:
    return next((path for path in SOUNDFONTS if path.is_file()), SOUNDFONTS[-1])


class GeneratorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUMJAM_", env_file=".env", extra="ignore")

    backend: str = Field("arranger", description="arranger | musicgen")
    concurrency: int = Field(1, ge=1, le=64, description="worker processes")
    batch_size: int = Field(1, ge=1, le=64, description="jobs per render_batch (musicgen)")
    # the job lease and the attempts per job are the queue's (db.settings.QueueSettings)
    heartbeat_s: float = Field(10.0, gt=0)

    # arranger
    soundfont: Path = Field(default_factory=_default_soundfont)
    sample_rate: int = 44100
    target_lufs: float = -14.0
    soundfont_on_demand: bool = Field(
        False, description="read a preset's samples when a track first plays it (one-shot CLI)"
    )

    # musicgen
    musicgen_model: str = Field(
        "facebook/musicgen-melody", description="hub id or local directory with the weights"
    )
    musicgen_device: str = Field("auto", description="auto | cuda | cpu")
    musicgen_dtype: str = Field("auto", description="auto | bfloat16 | float16 | float32")
    musicgen_offline: bool = Field(False, description="never contact the hub (local dir/cache)")
    musicgen_cuda_graphs: bool = Field(True, description="replay decode steps as CUDA graphs")

    # preview (issue #10): a Discord hum heard with less confidence than this asks first
    ask_below_confidence: float | None = Field(
        None, ge=0.0, le=1.0, description="None: listen's calibrated bar; 0: never ask first"
    )

    # limits the generator enforces itself (the bot checks them first for a friendly early answer)
    max_duration_s: float = 120.0
    max_prompt_chars: int = MAX_PROMPT_CHARS
