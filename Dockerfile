# humjam — CPU image: the bot, the queue tools and the arranger worker (the embedded default).
#
#   docker build -t humjam .
#   docker run --rm -v "$PWD/out:/app/out" humjam                      # humjam demo → out/
#   docker run --rm -e HUMJAM_DISCORD_TOKEN=... -e HUMJAM_DATABASE_URL=... humjam humjam bot
#   docker run --rm -e HUMJAM_DATABASE_URL=... humjam humjam worker --backend arranger
#
# GPU worker (MusicGen-melody): build the `gpu-worker` target, which starts from NVIDIA's CUDA runtime.
# On Linux x86-64 the registry's torch==2.13.0 wheel is the CUDA build, so the same pin serves both images:
#   docker build --target gpu-worker -t humjam-gpu .
#   docker run --gpus all -v /models:/models -e HUMJAM_MUSICGEN_MODEL=/models/musicgen-melody \
#       -e HUMJAM_DATABASE_URL=postgresql+psycopg://... humjam-gpu
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS cpu
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends libfluidsynth3 musescore-general-soundfont fluid-soundfont-gm libsndfile1 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY humjam ./humjam
COPY bot ./bot
COPY db ./db
COPY generator ./generator
COPY audio ./audio
RUN pip install .
# the MuseScore General SF3 decoded once into an SF2 (fast worker start), readable by the app user
ENV HUMJAM_CACHE_DIR=/app/cache
RUN python -m generator.backends.arranger.soundfont
RUN useradd --create-home humjam && mkdir -p /app/out /data && chown humjam /app/out /data
USER humjam
ENV HUMJAM_DATABASE_URL=sqlite:////data/humjam.db
# The bot serves /health on HUMJAM_HEALTH_PORT when set (readiness for orchestrators).
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import sys,urllib.request,os; p=os.environ.get('HUMJAM_HEALTH_PORT'); sys.exit(0 if not p else urllib.request.urlopen(f'http://127.0.0.1:{p}/health').status!=200)"
CMD ["humjam", "demo", "-o", "/app/out"]

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS gpu-worker
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv libfluidsynth3 musescore-general-soundfont fluid-soundfont-gm libsndfile1 \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /venv
ENV PATH=/venv/bin:$PATH
WORKDIR /app
COPY --from=cpu /app /app
ENV HUMJAM_CACHE_DIR=/app/cache
RUN pip install ".[musicgen]"
CMD ["humjam", "worker", "--backend", "musicgen"]
