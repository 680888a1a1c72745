"""Configuration from LOCARD_* environment variables, with embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ExternalTSA(BaseModel):
    name: str
    url: str
    #: PEM file(s) of the root CA(s) that the TSA's certificate must chain to
    ca_file: Path
    timeout: float = 10.0


class WitnessConfig(BaseModel):
    """A C2SP tlog-witness asked to cosign each checkpoint."""

    url: str
    #: the witness's cosignature/v1 verifier key, `<name>+<key ID>+<base64(0x04 || key)>`
    vkey: str
    timeout: float = 5.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOCARD_", env_nested_delimiter="__")

    data_dir: Path = Path("locard-data")
    #: default: SQLite (WAL) inside data_dir; PostgreSQL via postgresql://user@host/db
    database_url: str | None = None
    #: C2SP checkpoint origin, fixed at `locard init`
    origin: str = "locard.local/ledger"
    #: group commit: a seal when the oldest waiting event has waited this long. At 250 ms,
    #: 256 clients waiting on their receipts were bound by the wait, not the CPU (bench/http.py)
    seal_interval_ms: int = 100
    #: how long a server keeps a bearer token's principal or an artifact row without
    #: reading it again (a backstop: every principal change or custody transfer, by this
    #: process or another, empties the caches at once; app.rowcache). 0: read them on
    #: every request
    principal_cache_s: float = Field(default=30.0, ge=0)
    seal_max_events: int = 1000
    builtin_tsa: bool = True
    #: `locard init` makes the log key in this PKCS#11 token (module path, token label)
    #: instead of a key file; the PIN is read from LOCARD_PKCS11_PIN at every start
    pkcs11_module: str | None = None
    pkcs11_token: str | None = None
    pkcs11_key_label: str = "locard-log"
    #: the log key goes in the token (with pkcs11_module); off keeps it a file, which
    #: `locard keys rotate` can rotate
    pkcs11_log_key: bool = True
    #: also make the issuing CA's, the built-in TSA's and the report signer's keys in that
    #: token, labelled `<pkcs11_pki_label>-issuing-ca`, `-tsa` and `-report-signer`
    pkcs11_pki: bool = False
    pkcs11_pki_label: str = "locard"
    external_tsas: list[ExternalTSA] = []
    #: `locard renew` (and `locard serve`, every `renew_interval_s`) re-timestamps evidence
    #: whose newest TSA certificate expires within this many days
    renew_before_days: int = 365
    renew_interval_s: float = 86400.0

    store: Literal["local", "s3"] = "local"
    s3_endpoint: str | None = None
    s3_bucket: str = "locard"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    retention_days: int = 365 * 7
    #: API tokens stop working this many days after they are issued (0: never); tokens
    #: issued before expiry existed stay valid until they are reissued
    token_ttl_days: int = Field(default=90, ge=0)
    #: largest artifact accepted (bytes)
    max_upload_bytes: int = 1 << 40
    #: at startup, upload staging untouched for this long is removed (left by a crash).
    #: Not 0: another API process on the same store may be mid-upload, and an S3
    #: multipart upload's age counts from its start, not its last part.
    staging_cleanup_after_s: float = 24 * 3600
    #: free space on the data and store filesystems that uploads never take: kept so that
    #: legal holds, notes and the ledger can still be written when uploads cannot. Below
    #: it the vault is read-only (reads and legal holds only) and /healthz is degraded.
    reserve_free_bytes: int = Field(default=64 << 20, ge=0)
    #: a collector's container (app.collectors) is hostile until checked: bounds on its
    #: member count, on what its members expand to, and on one member's expansion ratio
    collection_max_members: int = Field(default=200_000, ge=1)
    collection_max_bytes: int = Field(default=1 << 40, ge=1)
    collection_max_ratio: int = Field(default=200, ge=1)

    #: witnesses asked at each seal, after the TSAs (JSON list of {url, vkey[, timeout]})
    witnesses: list[WitnessConfig] = []
    #: threads serving blocking work (database reads, sealing waits)
    worker_threads: int = Field(default=256, ge=4)
    #: uvicorn's access log, one line per request (custody accesses are ledger events)
    access_log: bool = False
    #: FastAPI's native OpenTelemetry (spans, metrics, logs through globally configured
    #: providers). Off by default: asking whether a provider is configured read the
    #: environment three times per request, about 7 % of a loaded request's time
    opentelemetry: bool = False
    #: publish tlog tiles and the checkpoint at most this often (0: after every seal)
    tlog_interval_ms: int = Field(default=1000, ge=0)
    #: serve tlog-tiles entry bundles (the events themselves) without authentication
    tlog_public_entries: bool = False

    #: a directory of <scenario>.toml playbooks replacing the shipped ones (app/playbooks/data)
    playbooks_dir: Path | None = None
    #: an automation system told of every playbook step recorded (JSON POST, best effort:
    #: Locard records the step whatever the webhook answers; it never carries steps out)
    playbook_webhook_url: str | None = None
    playbook_webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)
    #: a directory of <kind>.txt communication templates replacing the shipped ones (app/comms/data)
    comms_dir: Path | None = None
    #: a TOML file of data categories replacing the shipped list (app/cases/data)
    data_categories_file: Path | None = None

    host: str = "127.0.0.1"
    port: int = 8700
    #: the vault's address as others reach it (behind a proxy, its public name); the CA
    #: certificates made at init name their CRLs under it. Default: http://host:port
    public_url: str | None = None

    # The HTTP edge (app/edge): what one client may cost the server before it is cut off.
    #: the largest request body that is parsed whole (JSON, forms); evidence streams past it
    max_body_bytes: int = 512 * 1024
    #: a request line and its headers must arrive within this many seconds and bytes
    header_timeout_s: float = 15.0
    max_header_bytes: int = 64 * 1024
    #: a body must keep arriving at this many bytes/s, averaged over the window; time the
    #: server itself stopped reading (a busy disk, a full buffer) does not count
    min_body_rate: int = 1024
    body_rate_window_s: float = 30.0
    #: open connections per client address (load tests from one host may raise it)
    max_connections_per_client: int = 256
    #: reverse proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client;
    #: from anyone else that header is ignored
    trusted_proxies: list[str] = []

    @property
    def public_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def tlog_checkpoint_file(self) -> Path:
        """The published tlog checkpoint: mutable, so never in the write-once store."""
        return self.data_dir / "tlog" / "checkpoint"

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'locard.db').resolve()}"
