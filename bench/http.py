"""Per-request cost over HTTP: custody events, authenticated reads and served proofs (issue 13).

Run: `.venv/bin/python -m bench.http [--seconds 30] [--connections 256] [--db both]`.

One `locard serve` process on its embedded defaults (SQLite, local store, built-in TSA), or on
a fresh PostgreSQL database, is loaded by `wrk` (Debian's package) running on the same machine.
Each figure is paired with a baseline measured in the same run against the same server:

* annotation POSTs (each one a sealed custody event whose 201 carries its full receipt) and
  authenticated `GET /v1/artifacts/{id}` against `GET /healthz` (the transport, the event loop
  and the load generator: what any request costs);
* a served inclusion proof (one connection, so the figure is latency, not queueing) against
  the same proof computed in-process on the same database.

The load generator shares the two cores with the server: its CPU time is printed beside the
figures. After the load, a sample of receipts is checked offline against the pinned keys, and
every non-2xx answer is counted: a fast error is not a result.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import machine_info, report
from bench.concurrency import fresh_database, pinned_verifier
from bench.ingest import Server, cpu_seconds, free_port, py_spy, running

REPO = Path(__file__).resolve().parent.parent
#: wrk's Lua hook: every request a POST with the same JSON body and bearer token
_POST_LUA = """
wrk.method = "POST"
wrk.body = '{"text": "bench annotation"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
"""
_GET_LUA = """
wrk.headers["Authorization"] = "Bearer %(token)s"
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    errors: int
    p50_ms: float
    p99_ms: float
    wrk_cpu_s: float
    server_cpu_s: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def server_cpu_ms_per_request(self) -> float:
        return self.server_cpu_s * 1000 / max(1, self.requests)


@dataclass
class Target:
    server: Server
    data_dir: Path
    env: dict[str, str]
    artifact_id: str
    auditor_token: str


def _latency_ms(text: str, label: str) -> float:
    m = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def parse_wrk(text: str) -> tuple[int, float, int, int, float, float]:
    m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", text)
    if not m:
        raise RuntimeError(f"wrk printed no summary:\n{text}")
    secs = float(m.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[m.group(3)]
    non2 = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = sum(int(g) for g in errs.groups()) if errs else 0
    return (
        int(m.group(1)),
        secs,
        int(non2.group(1)) if non2 else 0,
        errors,
        _latency_ms(text, "50%"),
        _latency_ms(text, "99%"),
    )


def _wrk_cmd(url: str, threads: int, connections: int, seconds: float, lua: str) -> list[str]:
    duration = f"{max(1, round(seconds))}s"
    return [
        *("wrk", "-t", str(threads), "-c", str(connections), "-d", duration),
        *("--latency", "--timeout", "10s", "-s", lua, url),
    ]


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    script: str,
    server_pid: int,
    profile: Path | None = None,
) -> WrkResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    cmd = _wrk_cmd(url, min(2, connections), connections, seconds, fh.name)
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = cpu_seconds(server_pid)
    try:
        with py_spy(server_pid, profile) if profile else nullcontext():
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(fh.name)
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (after_children.ru_utime - before_children.ru_utime) + (
        after_children.ru_stime - before_children.ru_stime
    )
    n, secs, non2, errors, p50, p99 = parse_wrk(out)
    return WrkResult(
        n, secs, non2, errors, p50, p99, wrk_cpu, cpu_seconds(server_pid) - server_before
    )


def postgres_cpu_seconds() -> float:
    """CPU used so far by every PostgreSQL process on this machine (the backends serving
    the vault among them): the database's share of what a request costs."""
    total = 0.0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if (d / "comm").read_text().strip() == "postgres":
                total += cpu_seconds(int(d.name))
        except Exception:  # the process ended while we looked
            continue
    return total


@dataclass(frozen=True)
class Spread:
    """One load spread over several servers at once: one wrk per server."""

    requests: int
    seconds: float
    p99_ms: float
    server_cpu_s: float
    db_cpu_s: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        """Servers' and PostgreSQL's CPU together, per request."""
        return (self.server_cpu_s + self.db_cpu_s) * 1000 / max(1, self.requests)


def wrk_across(
    urls: list[str], *, seconds: float, connections: int, script: str, pids: list[int]
) -> Spread:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
    each = max(1, connections // len(urls))
    cpu0, db0 = sum(cpu_seconds(p) for p in pids), postgres_cpu_seconds()
    try:
        procs = [
            subprocess.Popen(
                _wrk_cmd(url, 1, each, seconds, fh.name),
                stdout=subprocess.PIPE,
                text=True,
            )
            for url in urls
        ]
        outs = [p.communicate()[0] for p in procs]
    finally:
        os.unlink(fh.name)
    cpu, db = sum(cpu_seconds(p) for p in pids) - cpu0, postgres_cpu_seconds() - db0
    parsed = [parse_wrk(o) for o in outs]
    for n, _, non2, errors, _, _ in parsed:
        if non2 or errors:
            raise RuntimeError(f"{non2} non-2xx and {errors} socket errors of {n} requests")
    return Spread(
        sum(p[0] for p in parsed),
        max(p[1] for p in parsed),
        max(p[5] for p in parsed),
        cpu,
        db,
    )


@dataclass(frozen=True)
class Scaling:
    one: Spread
    healthz: Spread
    many: Spread
    servers: int


def scaling(t: Target, root: Path, args: argparse.Namespace, stack: ExitStack) -> Scaling:
    """The same event load on one server, then on `args.servers` sharing the database."""
    servers = [t.server] + [
        _serve(stack, root, t.env, args.server_repo, n) for n in range(1, args.servers)
    ]
    path = f"/v1/artifacts/{t.artifact_id}/annotations"
    post = _POST_LUA % {"token": t.server.token}
    n, secs = args.connections, args.seconds

    def load(on: list[Server], script: str, url_path: str) -> Spread:
        urls = [s.url + url_path for s in on]
        return wrk_across(
            urls, seconds=secs, connections=n, script=script, pids=[s.pid for s in on]
        )

    one = load(servers[:1], post, path)
    hz = load(servers, "", "/healthz")
    return Scaling(one, hz, load(servers, post, path), len(servers))


def scaling_figures(sc: Scaling) -> list[str]:
    one, hz, many, k = sc.one, sc.healthz, sc.many, sc.servers
    figures = [
        report(
            f"custody events/s, {k} servers (PostgreSQL)",
            many.rate,
            "req/s",
            hz.rate,
            f"/healthz on {k} servers req/s",
        ),
        report(
            f"custody events/s, {k} servers against 1 (PostgreSQL)",
            many.rate,
            "req/s",
            one.rate,
            "1 server, same load, req/s",
        ),
        report(
            f"CPU per event, {k} servers (servers + PostgreSQL) ms",
            many.cpu_ms_per_request,
            "ms",
            one.cpu_ms_per_request,
            "1 server, same load, ms",
        ),
    ]

    def split(r: Spread) -> str:
        n = max(1, r.requests)
        servers, db = r.server_cpu_s * 1000 / n, r.db_cpu_s * 1000 / n
        return f"{servers:.2f} ms in the servers + {db:.2f} ms in PostgreSQL"

    print(
        f"- {k} servers: {many.requests:,} events in {many.seconds:.1f} s, p99 "
        f"{many.p99_ms:.0f} ms, CPU per event {split(many)}; 1 server: {one.rate:,.0f} "
        f"events/s, {split(one)}"
    )
    print(
        f"- **estimate, not a measurement**: 4 cores given wholly to the servers and "
        f"PostgreSQL, at the {many.cpu_ms_per_request:.2f} ms of CPU per event measured here, "
        f"would seal about {4000 / many.cpu_ms_per_request:,.0f} events/s (this machine: "
        f"{os.cpu_count()} cores shared with wrk). It assumes CPU stays the limit; the seal "
        f"itself is one process at a time (a database lock), which this does not measure"
    )
    return figures


def _python(repo: Path) -> str:
    """The interpreter of the checkout under test (another one for a before/after pair)."""
    venv = repo / ".venv" / "bin" / "python"
    return str(venv) if repo != REPO and venv.exists() else sys.executable


def _cli(env: dict[str, str], repo: Path, *args: str) -> str:
    out = subprocess.run(
        [_python(repo), "-m", "cli.main", *args],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def _serve(stack: ExitStack, root: Path, env: dict[str, str], repo: Path, n: int) -> Server:
    """One more `locard serve` process on the vault in `root` (several share its database)."""
    port = free_port()
    data = root / "vault"
    cmd = [_python(repo), "-m", "cli.main", "serve", "--data-dir", str(data), "--port", str(port)]
    log = root / f"vault-{n}.log"
    return stack.enter_context(running(cmd, log, "/healthz", port, env, cwd=repo))


@contextmanager
def target(root: Path, db_url: str | None, repo: Path = REPO) -> Iterator[Target]:
    """A vault with one case and one artifact, served by one `locard serve` process."""
    data = root / "vault"
    env = {**os.environ, "LOCARD_MAX_CONNECTIONS_PER_CLIENT": "4096"}
    if db_url:
        env["LOCARD_DATABASE_URL"] = db_url
    _cli(env, repo, "init", "--data-dir", str(data))
    add = ("user", "add", "--data-dir", str(data))
    token = _cli(env, repo, *add, "bench", "--role", "collector")
    auditor = _cli(env, repo, *add, "audit", "--role", "auditor")
    with ExitStack() as stack:
        server = _serve(stack, root, env, repo, 0)
        server.token = token
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as c:
            case = c.post("/v1/cases", json={"title": "http bench", "severity": "P3"})
            case.raise_for_status()
            server.case_id = case.json()["case"]["id"]
            art = c.post(
                f"/v1/cases/{server.case_id}/artifacts",
                params={"file_name": "bench.bin"},
                content=b"x" * 4096,
                headers={"Content-Type": "application/octet-stream"},
            )
            art.raise_for_status()
        yield Target(server, data, env, art.json()["artifact"]["id"], auditor)


def check_receipts(t: Target, sample: int) -> str:
    """Annotate `sample` more times and verify each receipt offline against the pinned keys."""
    verifier = pinned_verifier(t.data_dir / "keys")
    ok = 0
    with httpx.Client(base_url=t.server.url, headers=t.server.headers(), timeout=30) as c:
        for _ in range(sample):
            r = c.post(f"/v1/artifacts/{t.artifact_id}/annotations", json={"text": "check"})
            r.raise_for_status()
            got = verifier.verify_receipt(r.json()["receipt"])
            if not got.ok:
                raise RuntimeError(f"a served receipt fails offline: {got.first_failure}")
            ok += 1
    return f"{ok}/{sample} receipts verified offline against the pinned keys"


_IN_PROCESS = """
import statistics, sys, time
from pathlib import Path
from app.settings import Settings
from app.vault import open_vault
data, db, index, size, repeat = sys.argv[1:]
vault = open_vault(Settings(data_dir=Path(data), database_url=db or None), start=False)
samples = []
for _ in range(int(repeat)):
    t0 = time.perf_counter()
    vault.ledger.inclusion(int(index), int(size))
    samples.append((time.perf_counter() - t0) * 1e6)
vault.close()
print(statistics.median(samples))
"""


def in_process_proof_us(t: Target, repo: Path, index: int, size: int, repeat: int) -> float:
    """The same proof computed by the same checkout's code, in its own process."""
    db = t.env.get("LOCARD_DATABASE_URL", "")
    args = [str(t.data_dir), db, str(index), str(size), str(repeat)]
    out = subprocess.run(
        [_python(repo), "-c", _IN_PROCESS, *args],
        cwd=repo,
        env=t.env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def run_db(label: str, db_url: str | None, args: argparse.Namespace) -> list[str]:
    scaled: Scaling | None = None
    with (
        tempfile.TemporaryDirectory(prefix="locard-http-") as tmp,
        target(Path(tmp), db_url, args.server_repo) as t,
        ExitStack() as more,
    ):
        url, pid = t.server.url, t.server.pid

        def load(name: str, path: str, script: str, connections: int, seconds: float) -> WrkResult:
            prof = args.profile / f"{label.lower()}-{name}.txt" if args.profile else None
            return wrk(
                url + path,
                seconds=seconds,
                connections=connections,
                script=script,
                server_pid=pid,
                profile=prof,
            )

        n, secs = args.connections, args.seconds
        hz = load("healthz", "/healthz", "", n, secs)
        post = load(
            "events",
            f"/v1/artifacts/{t.artifact_id}/annotations",
            _POST_LUA % {"token": t.server.token},
            n,
            secs,
        )
        read = load(
            "reads", f"/v1/artifacts/{t.artifact_id}", _GET_LUA % {"token": t.server.token}, n, secs
        )
        auditor = {"Authorization": f"Bearer {t.auditor_token}"}
        size = int(
            httpx.get(f"{url}/v1/ledger/checkpoint", headers=auditor, timeout=10).json()["size"]
        )
        index = size // 2
        proof = load(
            "proof",
            f"/v1/ledger/proofs/inclusion?index={index}&tree_size={size}",
            _GET_LUA % {"token": t.auditor_token},
            1,
            max(3.0, secs / 3),
        )
        checked = check_receipts(t, args.receipts)
        in_proc = in_process_proof_us(t, args.server_repo, index, size, 200)
        if db_url and args.servers > 1:
            scaled = scaling(t, Path(tmp), args, more)
    print(f"\n## {label}: figure, then its baseline from the same run")
    figures = [
        report(f"custody events/s ({label})", post.rate, "req/s", hz.rate, "/healthz req/s"),
        report(f"event p99 ({label}) ms", post.p99_ms, "ms", hz.p99_ms, "/healthz p99 ms"),
        report(f"authenticated reads/s ({label})", read.rate, "req/s", hz.rate, "/healthz req/s"),
        report(
            f"served inclusion proof n={size:,} ({label}) µs",
            proof.p50_ms * 1000,
            "µs",
            in_proc,
            "the same proof in-process µs",
        ),
    ]
    for name, r in (("healthz", hz), ("events", post), ("reads", read), ("proof", proof)):
        print(
            f"- {name}: {r.requests:,} requests in {r.seconds:.1f} s, p50 {r.p50_ms:.1f} ms, "
            f"server CPU {r.server_cpu_ms_per_request:.2f} ms/request, "
            f"wrk CPU {r.wrk_cpu_s:.1f} s"
        )
        if r.non_2xx or r.errors:
            raise RuntimeError(f"{label} {name}: {r.non_2xx} non-2xx, {r.errors} socket errors")
    print(f"- {checked}")
    if scaled is not None:
        figures += scaling_figures(scaled)
    return figures


def main(argv: list[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--connections", type=int, default=256)
    ap.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--receipts", type=int, default=20, help="receipts verified afterwards")
    ap.add_argument(
        "--server-repo",
        type=Path,
        default=REPO,
        help="serve another checkout (with its own .venv), for a before/after pair",
    )
    ap.add_argument("--profile", type=Path, help="write py-spy collapsed stacks of each run here")
    ap.add_argument(
        "--servers",
        type=int,
        default=2,
        help="PostgreSQL: also load this many servers on one database (1: skip)",
    )
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is not installed (Debian package wrk; scripts/services.sh installs it)"
        )
    print(f"# HTTP per-request cost: {machine_info()}; wrk -c {args.connections}, same machine")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    if args.db in ("sqlite", "both"):
        lines += run_db("SQLite", None, args)
    if args.db in ("postgres", "both"):
        with fresh_database() as db_url:
            lines += run_db("PostgreSQL", db_url, args)
    return lines


if __name__ == "__main__":
    main()
