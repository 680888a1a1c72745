# Locard on its embedded defaults (SQLite, local write-once store, built-in TSA).
# Mount a volume at /data to keep the vault; set LOCARD_DATABASE_URL / LOCARD_STORE=s3 for production.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends openssl fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 locard
WORKDIR /srv/locard
COPY pyproject.toml README.md alembic.ini ./
COPY app app
COPY custody custody
COPY storage storage
COPY verify verify
COPY cli cli
COPY alembic alembic
RUN pip install --no-cache-dir -e ".[ewf]"
# Made here, owned by the service user: a named volume copies this directory's owner and
# mode when it is first mounted, so the vault can write keys and evidence without root.
RUN mkdir -m 0700 /data && chown locard:locard /data
USER locard
ENV LOCARD_DATA_DIR=/data LOCARD_HOST=0.0.0.0 LOCARD_PORT=8700
VOLUME ["/data"]
EXPOSE 8700
# /healthz answers 200 while the vault serves (also when degraded: reads and holds still
# work). The slim image has no curl; Python is there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('LOCARD_PORT', '8700'), timeout=4)"]
CMD ["sh", "-c", "[ -f /data/keys/vault.json ] || locard init; exec locard serve --host 0.0.0.0"]
