#!/usr/bin/env bash
# Installs everything humjam needs on a fresh Debian/Ubuntu machine: system packages
# (FluidSynth, the MuseScore General SF3 SoundFont and FluidR3 as the fallback), a virtualenv
# in .venv and the project.
#   scripts/setup.sh            runtime only (arranger, queue, bot)
#   scripts/setup.sh --dev      + test tools and the MusicGen extra (CPU torch)
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
if [[ "${1:-}" == "--dev" ]]; then extras="[dev,musicgen]"; fi

need_apt=()
[[ -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ]] || need_apt+=(fluid-soundfont-gm)
[[ -e /usr/share/sounds/sf3/MuseScore_General.sf3 ]] || need_apt+=(musescore-general-soundfont)
# grep reads all of it: with pipefail, an early `grep -q` exit would fail ldconfig (SIGPIPE)
ldconfig -p 2>/dev/null | grep libfluidsynth.so.3 >/dev/null || need_apt+=(libfluidsynth3)
if ! command -v python3 >/dev/null; then
    need_apt+=(python3 python3-venv)
elif ! python3 -c "import ensurepip, venv" 2>/dev/null; then
    need_apt+=(python3-venv)  # Debian's python3 ships venv without ensurepip
fi
if ((${#need_apt[@]})); then
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    echo "setup: installing system packages: ${need_apt[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
stamp=".venv/.humjam-installed${extras}"
if [[ ! -e "$stamp" || pyproject.toml -nt "$stamp" ]]; then
    echo "setup: installing humjam${extras} into .venv" >&2
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".${extras}"
    touch "$stamp"
fi
# MuseScore General is an SF3 (Vorbis samples, ~8 s of CPU to decode at every load): decode it
# once into the cache as an SF2, so workers start in well under a second.
.venv/bin/python -m generator.backends.arranger.soundfont >/dev/null
