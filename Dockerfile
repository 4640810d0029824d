# The monitor service image: one image for migrations, collectors and the console.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Dependencies first, so code edits do not reinstall them.
COPY pyproject.toml README.md ./
COPY src/monitor/__init__.py src/monitor/__init__.py
RUN pip install --upgrade pip && pip install -e . && rm -rf /root/.cache

COPY src ./src
COPY migrations ./migrations
COPY alembic.ini ./
COPY config ./config

RUN useradd --system --uid 10001 --home /app monitor \
    && mkdir -p /app/var && chown monitor /app/var
USER monitor

# var/ holds the Telegram session file (mode 0600) and caches: mount it as a volume.
VOLUME ["/app/var"]
EXPOSE 8000
CMD ["monitor", "run"]
