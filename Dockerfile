# syntax=docker/dockerfile:1
# The one image recipe, for the gateway and every service. Build from the repository root
# (the uv workspace); SERVICE picks what the image runs, and the rest follows from it:
#   docker build --build-arg SERVICE=auth --build-arg VERSION=0.1.0 \
#     --build-arg REVISION="$(git rev-parse HEAD)" \
#     -t membership-auto/auth:0.1.0 -t "membership-auto/auth:0.1.0-$(git rev-parse --short HEAD)" .
# `make images` builds all of them that way (README, "Images": the tag scheme; never :latest).
#
# Derived from SERVICE: its folder (gateway/, or services/<name>/), its workspace package
# (ma-<name>) and its app factory (<name>.app:create_app).

FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_NO_CACHE=1

# zoneinfo reads the system's time-zone database, which slim images leave out
# (appointments keeps each location's hours in its own IANA zone). Every image has it,
# so this layer, like the ones above, is shared by all of them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tzdata \
    && rm -rf /var/lib/apt/lists/*

RUN pip install "uv>=0.5"

# The member's files picked out of the workspace, as two trees: the manifests and the lock
# alone, then the code. COPY --from caches on the content copied, so a change elsewhere in
# the workspace, or to this member's code only, leaves the dependency layer cached.
FROM base AS sources
ARG SERVICE
COPY pyproject.toml uv.lock /src/
COPY shared/ /src/shared/
COPY gateway/ /src/gateway/
COPY services/ /src/services/
RUN set -eu; \
    case "${SERVICE:-}" in \
        "") echo "--build-arg SERVICE=<gateway or a folder of services/> is required" >&2; \
            exit 1 ;; \
        gateway) member=gateway ;; \
        *) member="services/${SERVICE}" ;; \
    esac; \
    if [ ! -f "/src/${member}/pyproject.toml" ]; then \
        echo "SERVICE=${SERVICE}: there is no ${member}/pyproject.toml" >&2; exit 1; \
    fi; \
    cd /src; \
    mkdir -p /manifests/shared "/manifests/${member}" "/code/${member}"; \
    cp pyproject.toml uv.lock /manifests/; \
    cp shared/pyproject.toml /manifests/shared/; \
    cp "${member}/pyproject.toml" "/manifests/${member}/"; \
    cp -r shared /code/shared; \
    cp -r "${member}/." "/code/${member}/"

FROM base
ARG SERVICE
WORKDIR /app

# Dependencies first. Members not copied (the launcher, the other services) are not
# needed for `--package ma-<name>`.
COPY --from=sources /manifests/ ./
RUN uv sync --frozen --no-dev --package "ma-${SERVICE}" --no-install-workspace

# The code. The workspace members are installed editable on purpose: a service finds its
# Alembic folder next to its package (services/<name>/migrations) and applies it.
COPY --from=sources /code/ ./
RUN uv sync --frozen --no-dev --package "ma-${SERVICE}"

RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home app \
    && mkdir -p /app/data \
    && chown -R app:app /app/data

# UVICORN_APP is uvicorn's own variable for the app argument, so the CMD below needs no
# shell and uvicorn is PID 1 (it gets SIGTERM).
# WebSocket heartbeats (chat's sockets, and the gateway's proxy of them) are uvicorn's
# protocol pings: every socket is pinged every UVICORN_WS_PING_INTERVAL seconds and closed
# when no pong arrives within UVICORN_WS_PING_TIMEOUT (chat README, "Heartbeats"). Each
# socket is one file descriptor: give the container `--ulimit nofile=65536` for thousands.
# No image has the S3 emulator (moto is the files service's optional `emulator` extra, not
# installed): files needs S3_ENDPOINT_URL (MinIO in compose) or none for AWS S3.
ENV PATH="/app/.venv/bin:${PATH}" \
    DATA_DIR=/app/data \
    UVICORN_APP="${SERVICE}.app:create_app" \
    UVICORN_WS_PING_INTERVAL=20 \
    UVICORN_WS_PING_TIMEOUT=20 \
    S3_EMULATOR=false
USER app

EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

# Declared this late so a new revision rebuilds nothing but the labels.
ARG VERSION=0.0.0
ARG REVISION=
ARG SOURCE=
LABEL org.opencontainers.image.title="membership-auto-${SERVICE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"

# On SIGTERM: in-flight requests get 20 s, then a service's lifespan drains its consumers
# (SHUTDOWN_TIMEOUT_SECONDS) and flushes the outbox; compose and Kubernetes wait longer.
# --no-proxy-headers: the gateway itself decides which proxies' X-Forwarded-For to believe
# (FORWARDED_ALLOW_IPS), and uvicorn's own handling would rewrite the client address first.
# The services are reached only through the gateway and never read the client address.
CMD ["uvicorn", "--factory", "--host", "0.0.0.0", "--port", "8000", \
     "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--no-proxy-headers", \
     "--timeout-graceful-shutdown", "20"]
