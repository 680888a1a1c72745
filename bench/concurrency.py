"""Concurrency: API server processes sharing one PostgreSQL database and one S3 bucket.

Run: `.venv/bin/python -m bench.concurrency [--clients 50] [--seconds 60] [--servers 2]`.

`locard init` runs once; then `--servers` `locard serve` processes start on the same data
directory (keys) with `LOCARD_DATABASE_URL` (PostgreSQL) and `LOCARD_STORE=s3`. N clients
upload small random files and download earlier ones for T seconds, each request sent to
the next server in turn. Afterwards every claim is checked: no acknowledged event lost or
duplicated (each leaf index exactly once, the ledger gap-free 0..size-1, one tree shared
by all processes), every receipt verifies offline against the pinned keys, and the vault
audit passes.

Figures are ratios against baselines measured in the same run: the same client loop
against `/healthz` on the same servers (what the transport and the load generator can do),
and the same load on a single server process (what a second process adds).

Without `--database-url` a fresh database is made through `LOCARD_TEST_PG` (the admin URL
the tests use) and dropped; without `--s3-endpoint` a private SeaweedFS is started.
`tests/concurrency` runs the same code with N=10, T=10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from app.settings import Settings
from bench.common import machine_info, report
from custody.keyring import Keyring
from verify.policy import VerificationPolicy
from verify.verifier import Verifier

REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 60.0
PG_ADMIN_URL = os.environ.get("LOCARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


# -- the cluster ---------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Target:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    region: str = "us-east-1"
    #: the S3 server's process, when this benchmark started it (for its CPU)
    pid: int | None = None


def vault_env(db_url: str, s3: S3Target, seal_interval_ms: int | None = None) -> dict[str, str]:
    """The environment every `locard` process of the cluster runs with."""
    env = {
        **os.environ,
        "LOCARD_DATABASE_URL": db_url,
        "LOCARD_STORE": "s3",
        "LOCARD_S3_ENDPOINT": s3.endpoint,
        "LOCARD_S3_BUCKET": s3.bucket,
        "LOCARD_S3_ACCESS_KEY": s3.access_key,
        "LOCARD_S3_SECRET_KEY": s3.secret_key,
        "LOCARD_S3_REGION": s3.region,
    }
    if seal_interval_ms is not None:
        env["LOCARD_SEAL_INTERVAL_MS"] = str(seal_interval_ms)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"locard {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 15.0) -> None:
    """SIGTERM (the server seals what is waiting), SIGKILL if it is still there later."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace_s)


@dataclass
class Cluster:
    data_dir: Path
    db_url: str
    s3: S3Target
    env: dict[str, str]
    collector: str
    auditor: str
    urls: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def settings(self) -> Settings:
        """The vault's Settings, as its server processes read them (for audit and checks)."""
        return Settings(
            data_dir=self.data_dir,
            database_url=self.db_url,
            store="s3",
            s3_endpoint=self.s3.endpoint,
            s3_bucket=self.s3.bucket,
            s3_access_key=self.s3.access_key,
            s3_secret_key=self.s3.secret_key,
            s3_region=self.s3.region,
        )

    def log_tails(self, chars: int = 3000) -> str:
        return "\n".join(
            f"--- {log.name} ---\n{log.read_text(errors='replace')[-chars:]}" for log in self.logs
        )

    def start_server(self) -> str:
        port = free_port()
        log = self.data_dir / f"serve-{len(self.procs)}-{port}.log"
        cmd = [sys.executable, "-m", "cli.main", "serve", "--data-dir", str(self.data_dir)]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*cmd, "--port", str(port)],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        self.logs.append(log)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{self.log_tails()}")
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start in {STARTUP_TIMEOUT_S:.0f} s")
            time.sleep(0.1)
        self.urls.append(url)
        return url

    def stop_servers(self) -> None:
        for proc in self.procs:
            stop_process(proc)
        self.procs.clear()
        self.urls.clear()


@contextmanager
def cluster(
    data_dir: Path,
    db_url: str,
    s3: S3Target,
    *,
    servers: int = 2,
    seal_interval_ms: int | None = None,
) -> Iterator[Cluster]:
    """`locard init` once, two principals, then `servers` server processes (all at once:
    starting together is part of what is tested)."""
    env = vault_env(db_url, s3, seal_interval_ms)
    data = str(data_dir)
    cli(env, "init", "--data-dir", data)
    collector = cli(
        env, "user", "add", "bench-collector", "--role", "collector", "--data-dir", data
    )
    auditor = cli(env, "user", "add", "bench-auditor", "--role", "auditor", "--data-dir", data)
    c = Cluster(data_dir, db_url, s3, env, collector.strip(), auditor.strip())
    try:
        for _ in range(servers):
            c.start_server()
        yield c
    finally:
        c.stop_servers()


# -- load ----------------------------------------------------------------------------------


@dataclass
class Op:
    kind: str  # upload | download | healthz
    server: int
    latency: float
    status: int
    error: str | None = None
    #: uploads: the receipt's leaf index; downloads: the access event's (X-Locard-Access-Event)
    index: int | None = None
    receipt: dict[str, Any] | None = None
    artifact: str | None = None


@dataclass
class LoadResult:
    ops: list[Op]
    seconds: float
    clients: int
    servers: int
    ledger_before: int = 0
    ledger_after: int = 0
    #: artifact id -> sha256 of what was uploaded
    uploaded: dict[str, str] = field(default_factory=dict)

    def of(self, kind: str) -> list[Op]:
        return [o for o in self.ops if o.kind == kind]

    def failures(self) -> list[Op]:
        return [o for o in self.ops if o.error is not None]

    def rate(self, kind: str) -> float:
        return len([o for o in self.of(kind) if o.error is None]) / self.seconds

    def events_per_s(self) -> float:
        return (self.ledger_after - self.ledger_before) / self.seconds

    def latency_ms(self, kind: str, q: float) -> float:
        return percentile([o.latency for o in self.of(kind) if o.error is None], q) * 1000


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ledger_size(url: str, token: str) -> int:
    r = httpx.get(
        f"{url}/v1/ledger/checkpoint", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    r.raise_for_status()
    return int(r.json()["size"])


async def _one_client(
    n: int,
    urls: Sequence[str],
    token: str,
    case_id: str | None,
    deadline: float,
    mode: str,
    sizes: tuple[int, int],
    download_share: float,
    pool: list[tuple[str, str]],
    result: LoadResult,
) -> None:
    rng = random.Random(n)
    headers = {"Authorization": f"Bearer {token}"}
    timeout = httpx.Timeout(120.0, connect=10.0)
    limits = httpx.Limits(max_connections=len(urls), max_keepalive_connections=len(urls))
    async with httpx.AsyncClient(headers=headers, timeout=timeout, limits=limits) as client:
        turn = n  # clients start on different servers, then take the next one each time
        while time.monotonic() < deadline:
            server = turn % len(urls)
            turn += 1
            url = urls[server]
            if mode == "healthz":
                kind = "healthz"
            elif pool and rng.random() < download_share:
                kind = "download"
            else:
                kind = "upload"
            t0 = time.perf_counter()
            op = Op(kind, server, 0.0, 0)
            try:
                if kind == "healthz":
                    r = await client.get(f"{url}/healthz")
                    op.status = r.status_code
                    if r.status_code != 200:
                        op.error = f"{r.status_code} {r.text[:200]}"
                elif kind == "upload":
                    data = os.urandom(rng.randint(*sizes))  # never deduplicated
                    r = await client.post(
                        f"{url}/v1/cases/{case_id}/artifacts",
                        params={"file_name": f"c{n}-{turn}.bin"},
                        content=data,
                    )
                    op.status = r.status_code
                    if r.status_code != 201:
                        op.error = f"{r.status_code} {r.text[:200]}"
                    else:
                        body = r.json()
                        art = body["artifact"]
                        if art["sha256"] != hashlib.sha256(data).hexdigest():
                            op.error = "the vault recorded another SHA-256"
                        op.receipt = body["receipt"]
                        op.index = int(body["receipt"]["leaf_index"])
                        op.artifact = art["id"]
                        result.uploaded[art["id"]] = art["sha256"]
                        pool.append((art["id"], art["sha256"]))
                else:
                    art_id, digest = pool[rng.randrange(len(pool))]
                    r = await client.get(
                        f"{url}/v1/artifacts/{art_id}/content", params={"reason": "bench"}
                    )
                    op.status, op.artifact = r.status_code, art_id
                    if r.status_code != 200:
                        op.error = f"{r.status_code} {r.text[:200]}"
                    elif hashlib.sha256(r.content).hexdigest() != digest:
                        op.error = "downloaded bytes do not match"
                    else:
                        op.index = int(r.headers["x-locard-access-event"])
            except httpx.HTTPError as exc:
                op.error = f"{type(exc).__name__}: {exc}"
            op.latency = time.perf_counter() - t0
            result.ops.append(op)


async def _load(
    urls: Sequence[str],
    token: str,
    clients: int,
    seconds: float,
    mode: str,
    sizes: tuple[int, int],
    download_share: float,
) -> LoadResult:
    result = LoadResult([], seconds, clients, len(urls))
    cases: list[str | None] = [None] * clients
    if mode != "healthz":
        async with httpx.AsyncClient(
            headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as setup:
            for i in range(clients):
                r = await setup.post(
                    f"{urls[i % len(urls)]}/v1/cases",
                    json={"title": f"bench client {i}", "severity": "P3"},
                )
                r.raise_for_status()
                cases[i] = r.json()["case"]["id"]
    pool: list[tuple[str, str]] = []
    start = time.monotonic()
    deadline = start + seconds
    await asyncio.gather(
        *(
            _one_client(
                i, urls, token, cases[i], deadline, mode, sizes, download_share, pool, result
            )
            for i in range(clients)
        )
    )
    result.seconds = time.monotonic() - start
    return result


def run_load(
    c: Cluster,
    clients: int,
    seconds: float,
    *,
    mode: str = "mixed",
    servers: int | None = None,
    sizes: tuple[int, int] = (1024, 16 * 1024),
    download_share: float = 0.5,
) -> LoadResult:
    """N clients for T seconds against the cluster's servers (the first `servers`)."""
    urls = c.urls[: servers or len(c.urls)]
    before = _ledger_size(urls[0], c.auditor)
    result = asyncio.run(_load(urls, c.collector, clients, seconds, mode, sizes, download_share))
    result.ledger_before, result.ledger_after = before, _ledger_size(urls[0], c.auditor)
    return result


# -- checks --------------------------------------------------------------------------------


@dataclass
class Checked:
    problems: list[str]
    events: int
    receipts: int
    audit_ok: bool
    audit: dict[str, Any]

    @property
    def ok(self) -> bool:
        return not self.problems and self.audit_ok


def check(c: Cluster, runs: Sequence[LoadResult], *, fetch_access_receipts: bool = True) -> Checked:
    """Everything the concurrency claims, checked once the servers are idle."""
    from app.audit import audit
    from app.vault import open_vault

    problems: list[str] = []
    ops = [o for r in runs for o in r.ops if o.kind != "healthz"]
    failed = [o for o in ops if o.error is not None]
    if failed:
        problems.append(f"{len(failed)} requests failed, e.g. {failed[0].kind}: {failed[0].error}")
    acked = [o for o in ops if o.error is None and o.index is not None]
    counts = Counter(o.index for o in acked if o.index is not None)
    twice = sorted(i for i, n in counts.items() if n > 1)
    if twice:
        problems.append(f"leaf indices acknowledged more than once: {twice[:10]}")

    engine = create_engine(_psycopg(c.db_url))
    try:
        with engine.connect() as conn:
            rows = {
                int(i): (bytes(h), str(t), it)
                for i, h, t, it in conn.execute(
                    text("SELECT leaf_index, leaf_hash, type, item FROM ledger_events")
                )
            }
            size = int(conn.execute(text("SELECT max(size) FROM checkpoints")).scalar_one() or 0)
            notes = {
                int(s): str(n) for s, n in conn.execute(text("SELECT size, note FROM checkpoints"))
            }
            ingests = Counter(
                str(it)
                for (it,) in conn.execute(
                    text("SELECT item FROM ledger_events WHERE type='ingest'")
                )
            )
    finally:
        engine.dispose()
    if sorted(rows) != list(range(size)):
        missing = sorted(set(range(size)) - set(rows))[:10]
        extra = sorted(set(rows) - set(range(size)))[:10]
        problems.append(f"ledger is not gap-free 0..{size - 1}: missing {missing}, beyond {extra}")
    for o in acked:
        assert o.index is not None
        row = rows.get(o.index)
        want = "ingest" if o.kind == "upload" else "access"
        if row is None:
            problems.append(f"acknowledged event {o.index} is not in the ledger (lost)")
        elif row[1] != want or row[2] != o.artifact:
            problems.append(f"event {o.index} is a {row[1]} of {row[2]}, not this {want}")
        elif o.receipt is not None and row[0].hex() != o.receipt["leaf_hash"]:
            problems.append(f"event {o.index} differs from its receipt")
    uploaded = {art for r in runs for art in r.uploaded}
    dup = sorted(a for a in uploaded if ingests.get(a, 0) != 1)
    if dup:
        problems.append(f"artifacts without exactly one ingest event: {dup[:10]}")

    verifier = pinned_verifier(c.data_dir / "keys")
    receipts = [o.receipt for o in acked if o.receipt is not None]
    if fetch_access_receipts:
        # Downloads answer with bytes; their access event's receipt comes from the ledger.
        with httpx.Client(
            base_url=c.urls[0], headers={"Authorization": f"Bearer {c.auditor}"}, timeout=60
        ) as client:
            for o in acked:
                if o.receipt is None:
                    r = client.get(f"/v1/ledger/receipts/{o.index}")
                    r.raise_for_status()
                    receipts.append(r.json())
    for receipt in receipts:
        got = verifier.verify_receipt(receipt)
        if not got.ok:
            problems.append(f"receipt {receipt['leaf_index']} fails: {got.first_failure}")
            break
        # One tree for all processes: each receipt's checkpoint is the ledger's own.
        if notes.get(int(receipt["tree_size"])) != receipt["checkpoint"]:
            problems.append(f"receipt {receipt['leaf_index']} names a checkpoint not in the ledger")
            break

    vault = open_vault(c.settings(), start=False)
    try:
        report = audit(vault)
    finally:
        vault.close()
    return Checked(problems, size, len(receipts), report.ok, report.to_json())


def pinned_verifier(keys_dir: Path) -> Verifier:
    """An offline verifier pinned to the vault's own log key, TSA root and origin."""
    keyring = Keyring.load(keys_dir)
    return Verifier(
        VerificationPolicy(
            trusted_log_keys=(keyring.signer.vkey(),),
            trusted_tsa_roots=(keyring.tsa.root_cert_der,),
            origin=keyring.origin,
        )
    )


def _psycopg(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


# -- infrastructure for a standalone run ---------------------------------------------------


@contextmanager
def fresh_database(admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    name = "locard_bench_" + uuid.uuid4().hex[:10]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@contextmanager
def private_seaweed() -> Iterator[S3Target]:
    from tests.support.seaweed import SeaweedS3

    server = SeaweedS3().start()
    try:
        yield S3Target(
            server.endpoint,
            server.access_key,
            server.secret_key,
            f"locard-bench-{uuid.uuid4().hex[:8]}",
            server.region,
            server.pid,
        )
    finally:
        server.kill()
        server.stop()


# -- the benchmark -------------------------------------------------------------------------


def _print_run(name: str, run: LoadResult) -> None:
    kinds = Counter(o.kind for o in run.ops)
    print(
        f"  {name}: {run.clients} clients x {run.seconds:.1f} s on {run.servers} server(s): "
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        + f"; {len(run.failures())} failed; ledger {run.ledger_before} -> {run.ledger_after}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--servers", type=int, default=2)
    ap.add_argument("--baseline-seconds", type=float, default=10.0, help="the /healthz loop")
    ap.add_argument("--no-single", action="store_true", help="skip the single-server baseline")
    ap.add_argument("--seal-interval-ms", type=int, help="default: the vault's (250)")
    ap.add_argument("--min-size", type=int, default=1024)
    ap.add_argument("--max-size", type=int, default=16 * 1024)
    ap.add_argument("--database-url", help="an empty PostgreSQL database (default: a fresh one)")
    ap.add_argument("--s3-endpoint", help="default: a private SeaweedFS")
    ap.add_argument("--s3-access-key", default=os.environ.get("LOCARD_S3_ACCESS_KEY"))
    ap.add_argument("--s3-secret-key", default=os.environ.get("LOCARD_S3_SECRET_KEY"))
    ap.add_argument("--s3-bucket", default=f"locard-bench-{uuid.uuid4().hex[:8]}")
    args = ap.parse_args()
    sizes = (args.min_size, args.max_size)

    print(f"# Locard concurrency benchmark — {machine_info()}", flush=True)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="locard-conc-")))
        db_url = args.database_url or stack.enter_context(fresh_database())
        if args.s3_endpoint:
            s3 = S3Target(args.s3_endpoint, args.s3_access_key, args.s3_secret_key, args.s3_bucket)
        else:
            s3 = stack.enter_context(private_seaweed())
        c = stack.enter_context(
            cluster(
                tmp / "vault",
                db_url,
                s3,
                servers=args.servers,
                seal_interval_ms=args.seal_interval_ms,
            )
        )
        print(
            f"# {args.servers} `locard serve` processes, PostgreSQL, S3 {s3.endpoint}; "
            f"{args.clients} clients, {args.seconds:.0f} s, files of {sizes[0]}-{sizes[1]} "
            "bytes, half uploads, half downloads of earlier uploads, round-robin",
            flush=True,
        )
        health = run_load(c, args.clients, args.baseline_seconds, mode="healthz")
        _print_run("baseline /healthz", health)
        single = None
        if not args.no_single and args.servers > 1:
            single = run_load(c, args.clients, args.seconds, servers=1, sizes=sizes)
            _print_run("baseline 1 server", single)
        multi = run_load(c, args.clients, args.seconds, sizes=sizes)
        _print_run(f"{args.servers} servers", multi)

        label = f"{args.servers} servers"
        hz = f"/healthz on {args.servers} servers"
        report(
            f"requests/s, all kinds ({label})",
            multi.rate("upload") + multi.rate("download"),
            "req/s",
            health.rate("healthz"),
            f"{hz} req/s",
        )
        for kind in ("upload", "download"):
            if single is not None:
                report(
                    f"{kind}s/s ({label})",
                    multi.rate(kind),
                    "ops/s",
                    single.rate(kind),
                    f"1 server {kind}s/s",
                )
            for q, qn in ((0.5, "p50"), (0.99, "p99")):
                report(
                    f"{kind} latency {qn} ({label})",
                    multi.latency_ms(kind, q),
                    "ms",
                    health.latency_ms("healthz", q),
                    f"{hz} {qn} ms",
                )
                if single is not None:
                    report(
                        f"{kind} latency {qn} (1 server)",
                        single.latency_ms(kind, q),
                        "ms",
                        health.latency_ms("healthz", q),
                        f"{hz} {qn} ms",
                    )
        if single is not None:
            report(
                f"ledger events/s ({label})",
                multi.events_per_s(),
                "events/s",
                single.events_per_s(),
                "1 server events/s",
            )
        else:
            report(
                f"ledger events/s ({label})",
                multi.events_per_s(),
                "events/s",
                health.rate("healthz"),
                f"{hz} req/s",
            )

        t0 = time.perf_counter()
        verdict = check(c, [r for r in (single, multi) if r is not None])
        print(
            f"# checks ({time.perf_counter() - t0:.1f} s): {verdict.events} events gap-free, "
            f"{verdict.receipts} receipts verified offline, audit "
            f"{'passed' if verdict.audit_ok else 'FAILED'}"
            + ("" if not verdict.problems else "; PROBLEMS: " + "; ".join(verdict.problems)),
            flush=True,
        )
        if not verdict.ok:
            if not verdict.audit_ok:
                print(f"# audit: {json.dumps(verdict.audit)[:4000]}", flush=True)
            print(f"# server logs:\n{c.log_tails(6000)}", flush=True)
            sys.exit(1)


if __name__ == "__main__":
    main()
