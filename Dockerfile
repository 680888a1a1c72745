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
USER locard
ENV LOCARD_DATA_DIR=/data LOCARD_HOST=0.0.0.0
VOLUME ["/data"]
EXPOSE 8700
CMD ["sh", "-c", "[ -f /data/keys/vault.json ] || locard init; exec locard serve --host 0.0.0.0"]
