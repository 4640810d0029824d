# The monitor service image: one image for migrations, collectors and the console.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Tesseract and its Arabic data read statement images (#13); fonts-noto-core is not needed
# here (only the browser tests draw Arabic).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-ara \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, so code edits do not reinstall them.
COPY pyproject.toml README.md ./
COPY src/monitor/__init__.py src/monitor/__init__.py
RUN pip install --upgrade pip && pip install -e . && rm -rf /root/.cache
# tesserocr compiled against Debian's Tesseract (never the PyPI wheel, which bundles another
# build): images are read in process, twice the command line's rate (#13). The compiler and
# headers go again once it is built; libtesseract stays, tesseract-ocr needs it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libtesseract-dev libleptonica-dev pkg-config g++ \
    && pip install --no-binary tesserocr tesserocr \
    && apt-get purge -y --auto-remove libtesseract-dev libleptonica-dev pkg-config g++ \
    && rm -rf /var/lib/apt/lists/* /root/.cache

COPY src ./src
COPY migrations ./migrations
COPY alembic.ini ./
COPY config ./config

RUN useradd --system --uid 10001 --home /app monitor \
    && mkdir -p /app/var /app/media && chown monitor /app/var /app/media
USER monitor

# var/ holds the Telegram session file (mode 0600), caches and the media store (var/media):
# mount it as a volume.
VOLUME ["/app/var"]
EXPOSE 8000
CMD ["monitor", "run"]
