# The production image: the locked production dependencies only (no embedded PostgreSQL/Redis,
# no dev tools), run as an unprivileged user. Build: docker build -t cryptorebate .
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/app/.data
WORKDIR /app

# Dependencies first (their layer survives code changes), exactly as locked, hashes checked.
# requirements.lock: make lock (pip-compile from pyproject.toml's [project] dependencies).
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY services services
COPY exchanges exchanges
COPY webapp webapp
COPY locales locales
COPY migrations migrations
# Editable: the code and its data folders (locales, templates) stay together in /app. --no-deps:
# everything it needs came from the lock above (pip check: and nothing is missing). Byte-compiled
# now, since the app user cannot write /app at run time (each start would compile it again).
# DATA_DIR (the development secret key when SECRET_KEY is unset) must be the app user's.
RUN pip install --no-deps -e . && pip check \
    && python -m compileall -q bot handlers services exchanges webapp migrations \
    && useradd --create-home --uid 10001 app \
    && mkdir -p "$DATA_DIR" && chown app:app "$DATA_DIR"
USER app

EXPOSE 8080
# web: python -m bot run ; worker: python -m bot worker ; migrations: python -m bot migrate.
# The health probe of the web process; the worker's service overrides it (docker-compose.yml).
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot.healthcheck", "web"]
CMD ["python", "-m", "bot", "run"]
