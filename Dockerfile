FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY services services
COPY exchanges exchanges
COPY webapp webapp
COPY locales locales
COPY migrations migrations
# Editable: the code and its data folders (locales, templates) stay together in /app.
RUN pip install -e . && useradd --create-home app
USER app

EXPOSE 8080
# web: python -m bot run ; worker: python -m bot worker ; migrations: python -m bot migrate
CMD ["python", "-m", "bot", "run"]
