# One image for every mediaq role; the compose file picks the role with the command
# (`api`, `scheduler`, `worker`, `flower`, `migrate`). ffmpeg comes from Debian: its build
# loads NVENC from the NVIDIA driver at run time, so the same image encodes on a GPU host
# (run with the NVIDIA container runtime) and falls back to libx264 elsewhere.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first (cached while only the code changes), then the code.
COPY pyproject.toml ./
RUN python -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb')); \
print('\n'.join(d['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt
COPY . .
RUN touch README.md && pip install --no-deps . \
 && useradd --create-home --uid 10001 mediaq \
 && mkdir -p /data/library && chown -R mediaq /data

USER mediaq
EXPOSE 4100 5555
ENTRYPOINT ["mediaq"]
CMD ["api"]
