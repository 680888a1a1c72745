"""Ingest benchmarks: streaming upload throughput (local store and S3), memory, concurrency.

Run: `.venv/bin/python -m bench.ingest [--size-mib 1024] [--quick] [--no-s3] [--profile out.txt]`.

Every vault runs as its own `locard serve` subprocess on a free 127.0.0.1 port, so the
client and the server do not share a GIL. Every figure is printed as a ratio against a
baseline measured in the same run, in the same unit:

* local-store throughput: `md5sum` of the same file (MB/s, MB = 10^6 bytes). Ingest
  computes SHA-256, SHA-1 and MD5 and MD5 is the slowest of them here, so one `md5sum`
  is the rate no single-pass ingest can beat; `openssl speed` of each of the three
  algorithms is reported against it too, to show which hash sets the limit;
* S3 throughput (SeaweedFS + PostgreSQL): boto3 `upload_file` (its defaults: 8 MiB
  parts, 10 threads) of the same file to the same bucket, alternated with the vault's
  uploads; medians;
* peak RSS: the same server idle, and the small upload's peak for the large one;
* concurrency: a bare HTTP sink on the same server stack (uvicorn, same event loop and
  HTTP parser) that reads and SHA-256-hashes each body and answers 201, driven by the
  same load generator. Each vault upload waits for its ledger seal (default <= 250 ms),
  which bounds latency from below.

`--quick` is the suite's smoke mode: small sizes, one run each, every row still printed.
Targets are printed on `# targets` lines, never in a baseline.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import httpx

from bench.common import machine_info, report

if TYPE_CHECKING:
    from bench.concurrency import S3Target
from storage.hashing import MultiHasher

MB = 1_000_000
MiB = 1 << 20
GiB = 1 << 30
CHUNK = MiB
REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 60.0
#: the checkout `locard serve` runs from; `--server-tree` points it at another one (A/B)
server_tree = REPO
UPLOAD_TIMEOUT = httpx.Timeout(1800.0, connect=10.0)

psutil: ModuleType | None  # typed alike with or without the psutil stubs installed
try:
    import psutil as _psutil

    psutil = _psutil
except ImportError:  # pragma: no cover - psutil is in the `bench` extra
    psutil = None


# -- test data ---------------------------------------------------------------------------


def make_random_file(path: Path, size: int) -> Path:
    with path.open("wb") as fh:
        left = size
        while left:
            n = min(CHUNK, left)
            fh.write(os.urandom(n))
            left -= n
    return path


def file_chunks(path: Path) -> Iterator[bytes]:
    """1 MiB chunks: what a collector streaming a disk image sends."""
    with path.open("rb", buffering=0) as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


@dataclass
class Baseline:
    name: str
    mbs: float  # best wall-clock MB/s
    cpu_s_per_gib: float  # CPU seconds (user + sys) per GiB hashed, for the best run
    digest: str


def sha256sum_baseline(path: Path, repeat: int) -> Baseline:
    """Best-of-`repeat` coreutils `sha256sum` of `path` (page cache warm)."""
    return coreutils_baseline("sha256", path, repeat)


def md5sum_baseline(path: Path, repeat: int) -> Baseline:
    """Best-of-`repeat` coreutils `md5sum`: the slowest hash ingest computes."""
    return coreutils_baseline("md5", path, repeat)


def coreutils_baseline(algo: str, path: Path, repeat: int) -> Baseline:
    exe = shutil.which(f"{algo}sum")
    best, best_cpu, digest = float("inf"), 0.0, ""
    for _ in range(repeat):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c0 = time.process_time()
        t0 = time.perf_counter()
        if exe:
            out = subprocess.run([exe, str(path)], check=True, capture_output=True, text=True)
            digest = out.stdout.split()[0]
        else:  # no coreutils: hashlib, and the label says so
            h = hashlib.new(algo)
            for chunk in file_chunks(path):
                h.update(chunk)
            digest = h.hexdigest()
        elapsed = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        if not exe:
            cpu = time.process_time() - c0
        if elapsed < best:
            best, best_cpu = elapsed, cpu
    size = path.stat().st_size
    return Baseline(
        f"{algo}sum" if exe else f"hashlib {algo}", size / best / MB, best_cpu * GiB / size, digest
    )


def openssl_speed(algo: str, seconds: int = 2) -> float | None:
    """`openssl speed` of `algo` on 1 MiB blocks, one thread, in MB/s (None without openssl)."""
    exe = shutil.which("openssl")
    if exe is None:
        return None
    out = subprocess.run(
        [exe, "speed", "-seconds", str(seconds), "-bytes", str(MiB), algo],
        capture_output=True,
        text=True,
    )
    for line in reversed(out.stdout.splitlines()):
        fields = line.split()
        if len(fields) == 2 and fields[0] == algo and fields[1].endswith("k"):
            return float(fields[1][:-1]) * 1000 / MB  # openssl's "k" is 1000 bytes/s
    return None


def multihash_rate(path: Path) -> float:
    """MB/s of the store's own hashing (SHA-256 + SHA-1 + MD5, one thread) in-process."""
    hasher = MultiHasher()
    t0 = time.perf_counter()
    for chunk in file_chunks(path):
        hasher.update(chunk)
    hasher.digests()
    return path.stat().st_size / (time.perf_counter() - t0) / MB


# -- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited after `grace_s`."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace_s)


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    token: str | None = None
    case_id: str | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def upload_url(self) -> str:
        if self.case_id is None:
            return f"{self.url}/sink"
        return f"{self.url}/v1/cases/{self.case_id}/artifacts"


@contextmanager
def running(
    cmd: list[str],
    log: Path,
    health: str,
    port: int,
    env: dict[str, str] | None = None,
    *,
    cwd: Path | None = None,
) -> Iterator[Server]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd or server_tree, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(proc, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"server exited ({proc.returncode}); see {log}:\n"
                    + log.read_text(errors="replace")[-2000:]
                )
            try:
                if httpx.get(server.url + health, timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start in {STARTUP_TIMEOUT_S:.0f} s")
            time.sleep(0.1)
        yield server
    except BaseException:
        stop_process(proc)
        tail = log.read_text(errors="replace")[-4000:]
        print(f"--- last lines of {log.name} ---\n{tail}", file=sys.stderr, flush=True)
        raise
    finally:
        stop_process(proc)


def _cli(*args: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=server_tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


@contextmanager
def vault_server(root: Path, tag: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    """A fresh vault (init, one collector, one case) served by `locard serve`; `env`
    chooses its database and store (default: SQLite and the local store)."""
    data = root / f"vault-{tag}"
    _cli("init", "--data-dir", str(data), env=env)
    token = _cli("user", "add", "bench", "--role", "collector", "--data-dir", str(data), env=env)
    port = free_port()
    cmd = [sys.executable, "-m", "cli.main", "serve", "--data-dir", str(data), "--port", str(port)]
    with running(cmd, root / f"vault-{tag}.log", "/healthz", port, env) as server:
        server.token = token.strip().splitlines()[-1]
        r = httpx.post(
            f"{server.url}/v1/cases",
            headers=server.headers(),
            timeout=30,
            json={"title": f"bench {tag}", "severity": "P3"},
        )
        r.raise_for_status()
        server.case_id = r.json()["case"]["id"]
        yield server


@contextmanager
def sink_server(root: Path) -> Iterator[Server]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.ingest:sink_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with running(cmd, root / "sink.log", "/", port) as server:
        yield server


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def sink_app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Bare ASGI sink: read the body, SHA-256 it, answer 201 with size and digest."""
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    h = hashlib.sha256()
    size = 0
    more = True
    while more:
        msg = await receive()
        body = msg.get("body", b"")
        h.update(body)
        size += len(body)
        more = bool(msg.get("more_body", False))
    payload = json.dumps({"size": size, "sha256": h.hexdigest()}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 201 if scope["method"] == "POST" else 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


# -- memory ------------------------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    if psutil is not None:
        return int(psutil.Process(pid).memory_info().rss)
    return _proc_status_kib(pid, "VmRSS") * 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    if psutil is not None:
        t = psutil.Process(pid).cpu_times()
        return float(t.user + t.system)
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hwm_bytes(pid: int) -> int | None:
    """Peak RSS since the process started (Linux VmHWM), None where unavailable."""
    try:
        return _proc_status_kib(pid, "VmHWM") * 1024
    except (OSError, KeyError):
        return None


def _proc_status_kib(pid: int, name: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise KeyError(name)


@dataclass
class RssSampler:
    """Polls a process's RSS in a thread; `peak` is the larger of the samples and VmHWM."""

    pid: int
    interval_s: float = 0.01
    sampled_peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sampled_peak = max(self.sampled_peak, rss_bytes(self.pid))
            except (OSError, KeyError):
                return
            self._stop.wait(self.interval_s)

    @property
    def peak(self) -> int:
        return max(self.sampled_peak, hwm_bytes(self.pid) or 0)


# -- uploads -----------------------------------------------------------------------------


def upload_httpx(
    server: Server, path: Path, expect_sha256: str | None, *, declare: bool = False
) -> float:
    """Stream `path` in 1 MiB chunks with Content-Length; returns seconds to the 201.
    With `declare`, the SHA-256 is sent up front (as `locard upload` does)."""
    size = path.stat().st_size
    params = {"file_name": path.name}
    if declare:
        if expect_sha256 is None:
            raise ValueError("declare needs the expected SHA-256")
        params["sha256"] = expect_sha256
    headers = server.headers() | {
        "Content-Length": str(size),
        "Content-Type": "application/octet-stream",
    }
    with httpx.Client(timeout=UPLOAD_TIMEOUT) as client:
        t0 = time.perf_counter()
        r = client.post(
            server.upload_url(),
            params=params,
            content=file_chunks(path),
            headers=headers,
        )
        elapsed = time.perf_counter() - t0
    _check(r.status_code, r.text, size, expect_sha256)
    return elapsed


def upload_curl(server: Server, path: Path, expect_sha256: str | None) -> tuple[float, str] | None:
    """`curl --data-binary @file`; curl (7.x) refuses to slurp files of 1 GiB or more
    ("out of memory"), and then the streaming `curl -T file -X POST` is used instead."""
    curl = shutil.which("curl")
    if curl is None:
        return None
    common = ["-sS", "-H", "Content-Type: application/octet-stream", "-w", "\n%{http_code}"]
    for k, v in server.headers().items():
        common += ["-H", f"{k}: {v}"]
    url = f"{server.upload_url()}?file_name={path.name}"
    for mode, args in (
        ("--data-binary @file", ["-X", "POST", "--data-binary", f"@{path}"]),
        ("-T file (streaming)", ["-X", "POST", "-T", str(path)]),
    ):
        t0 = time.perf_counter()
        out = subprocess.run([curl, *common, *args, url], capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
        if out.returncode == 2 and "out of memory" in out.stderr:
            continue
        if out.returncode != 0:
            raise RuntimeError(f"curl failed ({out.returncode}): {out.stderr.strip()}")
        body, _, code = out.stdout.rpartition("\n")
        _check(int(code), body, path.stat().st_size, expect_sha256)
        return elapsed, mode
    return None


def _check(status: int, text: str, size: int, expect_sha256: str | None) -> None:
    if status != 201:
        raise RuntimeError(f"upload failed: HTTP {status}: {text[:500]}")
    data = json.loads(text)
    art = data.get("artifact", data)
    if art["size"] != size or (expect_sha256 and art["sha256"] != expect_sha256):
        raise RuntimeError(f"upload stored the wrong bytes: {art}")


@dataclass
class LoadResult:
    rate: float
    p50_ms: float
    p99_ms: float
    failures: Counter[str]


def concurrent_uploads(server: Server, bodies: list[bytes], workers: int) -> LoadResult:
    """`workers` threads, one keep-alive httpx client each, drain `bodies` as fast as they can.

    A failed upload is counted (by status and first line of the error) rather than ending
    the run; rate and latencies are over the successful uploads only.
    """
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    lock = threading.Lock()
    next_index = iter(range(len(bodies)))

    def worker() -> None:
        with httpx.Client(timeout=UPLOAD_TIMEOUT, headers=server.headers()) as client:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                body = bodies[i]
                t0 = time.perf_counter()
                try:
                    r = client.post(
                        server.upload_url(), params={"file_name": f"small-{i}.bin"}, content=body
                    )
                    dt = time.perf_counter() - t0
                    _check(r.status_code, r.text, len(body), None)
                except (httpx.HTTPError, RuntimeError) as exc:
                    with lock:
                        failures[str(exc).splitlines()[0][:120]] += 1
                    continue
                with lock:
                    latencies.append(dt)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if len(latencies) < 2:
        raise RuntimeError(f"concurrent uploads failed: {dict(failures)}")
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return LoadResult(len(latencies) / elapsed, q[49] * 1000, q[98] * 1000, failures)


# -- profiling ---------------------------------------------------------------------------


@contextmanager
def py_spy(pid: int, out: Path) -> Iterator[None]:
    """`py-spy record` on `pid` for the duration of the block (needs root or ptrace rights).

    The output format follows the extension: .svg flamegraph, .json speedscope, else raw
    collapsed stacks (which `summarize_profile` reads). With LOCARD_PROFILE_GIL set, only
    the thread holding the GIL is sampled: on a server bound by one core, that is where
    its CPU goes (waits and idle threads drop out).
    """
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    fmt = {".svg": "flamegraph", ".json": "speedscope"}.get(out.suffix, "raw")
    proc = subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "200",
            "--threads",
            "--nonblocking",
            *(["--gil"] if os.environ.get("LOCARD_PROFILE_GIL") else []),
            "--format",
            fmt,
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.0)  # let it attach
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode not in (0, -signal.SIGINT):
            print(f"  py-spy failed ({proc.returncode}): {err.decode(errors='replace')[-500:]}")


_WAIT_FRAMES = ("Condition.wait", "Queue.get", "concurrent/futures/thread.py:81)")


def summarize_profile(path: Path, top: int = 15) -> None:
    """Top functions by self time and by thread, from py-spy's raw collapsed stacks."""
    leaves: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        threads[frames[0]] += n
        leaves[frames[-1]] += n
    if not total:
        return
    print(f"  profile: {total} samples; by thread:")
    for name, n in threads.most_common(6):
        print(f"    {100 * n / total:5.1f}%  {name}")
    print("  top self time (py-spy counts some blocked threads as active; marked 'waiting'):")
    for name, n in leaves.most_common(top):
        waiting = any(w in name for w in _WAIT_FRAMES)
        print(f"    {100 * n / total:5.1f}%  {name}{'  [waiting]' if waiting else ''}")


# -- main --------------------------------------------------------------------------------


def _raise_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} cores"


def fresh_content(path: Path) -> str:
    """Give `path` new content (its first 16 bytes) and return its SHA-256: a store that
    already holds the content skips the work, which would flatter every run after the first."""
    with path.open("r+b") as fh:
        fh.write(os.urandom(16))
    h = hashlib.sha256()
    for chunk in file_chunks(path):
        h.update(chunk)
    return h.hexdigest()


def _mbs(size: int, seconds: list[float]) -> float:
    return size / statistics.median(seconds) / MB


def hash_baselines(big: Path, repeat: int, quick: bool) -> Baseline:
    """md5sum (the baseline of every local throughput figure) and the rates it is set by."""
    md5 = md5sum_baseline(big, repeat)
    bname = f"{md5.name} MB/s"
    report(f"{md5.name} {big.stat().st_size // MiB} MiB", md5.mbs, "MB/s", md5.mbs, bname)
    sha = sha256sum_baseline(big, repeat)
    report(f"{sha.name} (same file)", sha.mbs, "MB/s", md5.mbs, bname)
    for algo in ("md5", "sha1", "sha256"):
        rate = openssl_speed(algo, 1 if quick else 3)
        if rate is not None:
            report(f"openssl speed {algo} (1 MiB blocks, 1 thread)", rate, "MB/s", md5.mbs, bname)
    report("in-process sha256+sha1+md5 (1 thread)", multihash_rate(big), "MB/s", md5.mbs, bname)
    return md5


def local_section(args: argparse.Namespace, tmp: Path, big: Path, base: Baseline) -> float:
    """Local-store ingest over HTTP: throughput, CPU and memory. Returns the median ratio."""
    size, label = big.stat().st_size, f"{args.size_mib} MiB"
    bname = f"{base.name} MB/s"
    small = make_random_file(tmp / "small.bin", args.small * MiB)
    small_sha = hashlib.sha256(small.read_bytes()).hexdigest()
    bodies = [os.urandom(MiB) for _ in range(args.uploads)]

    # The transport alone: same uvicorn stack, body only hashed (SHA-256).
    with sink_server(tmp) as sink:
        t = min(upload_httpx(sink, big, None) for _ in range(args.repeat))
        report(f"httpx -> bare sink {label}", size / t / MB, "MB/s", base.mbs, bname)
        sink_load = concurrent_uploads(sink, bodies, args.concurrency)

    with vault_server(tmp, "big") as vault:
        httpx_s: list[float] = []
        curl_s: list[float] = []
        md5_s: list[float] = []  # an md5sum right before each upload: the load drifts
        curl_mode = ""
        cpu = 0.0
        with RssSampler(vault.pid) as rss:
            for i in range(args.repeat):
                digest = fresh_content(big)
                md5_s.append(size / md5sum_baseline(big, 1).mbs / MB)
                cpu0 = cpu_seconds(vault.pid)
                httpx_s.append(upload_httpx(vault, big, digest))
                if i == 0:
                    cpu = cpu_seconds(vault.pid) - cpu0
                if not args.no_curl:
                    digest = fresh_content(big)
                    md5_s.append(size / md5sum_baseline(big, 1).mbs / MB)
                    if (curl := upload_curl(vault, big, digest)) is not None:
                        curl_s.append(curl[0])
                        curl_mode = curl[1]
        big_peak = rss.peak
        paired = _mbs(size, md5_s)
        pname = f"{base.name} MB/s, one before each upload"
        mbs = _mbs(size, httpx_s)
        report(f"httpx -> vault ingest, local store, {label}", mbs, "MB/s", paired, pname)
        ratios = [mbs / paired]
        if curl_s:
            curl_mbs = _mbs(size, curl_s)
            report(
                f"curl {curl_mode} -> vault ingest, local store", curl_mbs, "MB/s", paired, pname
            )
            ratios.append(curl_mbs / paired)
        print(
            f"  medians of {len(httpx_s)}; httpx runs: "
            + ", ".join(f"{size / t / MB:,.0f}" for t in httpx_s)
            + "; curl runs: "
            + (", ".join(f"{size / t / MB:,.0f}" for t in curl_s) or "none")
            + "; md5sum before each: "
            + ", ".join(f"{size / t / MB:,.0f}" for t in md5_s)
            + " MB/s",
            flush=True,
        )
        report(
            "vault server CPU per GiB ingested (user+sys)",
            cpu * GiB / size,
            "s",
            base.cpu_s_per_gib,
            f"{base.name} CPU s per GiB",
        )
        if args.profile is not None:
            out = args.profile.resolve()
            fresh_content(big)
            with py_spy(vault.pid, out):
                t_prof = upload_httpx(vault, big, None)
            print(f"  profiled upload: {size / t_prof / MB:,.1f} MB/s under py-spy -> {out}")
            if out.suffix not in (".svg", ".json") and out.exists():
                summarize_profile(out)

    # Memory with the small upload in another fresh server, then small concurrent uploads.
    with vault_server(tmp, "small") as vault:
        idle = rss_bytes(vault.pid)
        with RssSampler(vault.pid) as rss:
            upload_httpx(vault, small, small_sha)
        small_peak = rss.peak
        load = concurrent_uploads(vault, bodies, args.concurrency)
    report(
        f"vault peak RSS, {args.small} MiB upload",
        small_peak / MiB,
        "MiB",
        idle / MiB,
        "same server idle RSS MiB",
    )
    report(
        f"vault peak RSS, {label} uploads",
        big_peak / MiB,
        "MiB",
        small_peak / MiB,
        f"peak RSS {args.small} MiB upload",
    )
    growth = (big_peak - small_peak) / MiB
    tag = f"{args.concurrency}x1 MiB"
    report(f"vault {tag} uploads/s", load.rate, "uploads/s", sink_load.rate, "bare sink uploads/s")
    report(f"vault {tag} p50 latency", load.p50_ms, "ms", sink_load.p50_ms, "bare sink p50 ms")
    report(f"vault {tag} p99 latency", load.p99_ms, "ms", sink_load.p99_ms, "bare sink p99 ms")
    for what, res in (("bare sink", sink_load), ("vault", load)):
        for err, n in res.failures.most_common():
            print(f"  FAILED {what}: {n}/{len(bodies)} uploads: {err}", flush=True)
    ratio = statistics.median(ratios)
    failed = sum(load.failures.values())
    print(
        f"# targets: local ingest/{base.name} {ratio:.2f} >= 0.75 "
        f"{'ok' if ratio >= 0.75 else 'BELOW TARGET'}; "
        f"peak RSS {args.small} MiB -> {label}: {growth:+.1f} MiB (flat: <= 20) "
        f"{'ok' if growth <= 20 else 'GROWS'}; concurrent uploads failed: {failed}/{len(bodies)}",
        flush=True,
    )
    return ratio


def _cpu_of(s3_pid: int | None, vault_pid: int) -> tuple[float, float, float]:
    """CPU seconds so far of the S3 server, the vault and this process (the client)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    server = cpu_seconds(s3_pid) if s3_pid else float("nan")
    return server, cpu_seconds(vault_pid), own.ru_utime + own.ru_stime


def boto3_upload_file(s3: S3Target, path: Path) -> float:
    """boto3 `upload_file` with its defaults to the same bucket; seconds."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3.endpoint,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
        region_name=s3.region,
    )
    t0 = time.perf_counter()
    client.upload_file(str(path), s3.bucket, f"bench-baseline/{os.urandom(8).hex()}")
    return time.perf_counter() - t0


def s3_section(args: argparse.Namespace, tmp: Path, big: Path) -> None:
    """S3 (SeaweedFS) + PostgreSQL ingest against boto3 `upload_file` to the same bucket,
    alternated run by run; medians."""
    from bench.concurrency import fresh_database, private_seaweed, vault_env

    size, label = big.stat().st_size, f"{args.size_mib} MiB"
    with ExitStack() as stack:
        s3 = stack.enter_context(private_seaweed())
        db_url = stack.enter_context(fresh_database())
        env = vault_env(db_url, s3)
        vault = stack.enter_context(vault_server(tmp, "s3", env))
        # The small upload first: peak RSS (VmHWM) only ever grows.
        small = make_random_file(tmp / "s3-small.bin", args.small * MiB)
        with RssSampler(vault.pid) as rss_small:
            upload_httpx(vault, small, None)
        small_peak = rss_small.peak
        runs: dict[str, list[float]] = {"boto3": [], "undeclared": [], "declared": []}
        cpu: dict[str, list[tuple[float, float, float]]] = {k: [] for k in runs}

        def timed(kind: str, upload: Callable[[], float]) -> None:
            before = _cpu_of(s3.pid, vault.pid)
            runs[kind].append(upload())
            after = _cpu_of(s3.pid, vault.pid)
            cpu[kind].append((after[0] - before[0], after[1] - before[1], after[2] - before[2]))

        with RssSampler(vault.pid) as rss:
            for _ in range(args.repeat):
                timed("boto3", partial(boto3_upload_file, s3, big))
                timed("undeclared", partial(upload_httpx, vault, big, fresh_content(big)))
                digest = fresh_content(big)
                timed("declared", partial(upload_httpx, vault, big, digest, declare=True))
        peak = rss.peak
        if args.profile is not None and args.no_local:
            out = args.profile.resolve()
            digest = fresh_content(big)
            with py_spy(vault.pid, out):
                t_prof = upload_httpx(vault, big, digest, declare=True)
            print(f"  profiled S3 upload: {size / t_prof / MB:,.1f} MB/s under py-spy -> {out}")
            if out.suffix not in (".svg", ".json") and out.exists():
                summarize_profile(out)
    base = _mbs(size, runs["boto3"])
    bname = "boto3 upload_file MB/s, same bucket"
    report(f"boto3 upload_file -> SeaweedFS {label}", base, "MB/s", base, bname)
    declared = _mbs(size, runs["declared"])
    report(f"vault ingest, S3, SHA-256 declared, {label}", declared, "MB/s", base, bname)
    undeclared = _mbs(size, runs["undeclared"])
    report(f"vault ingest, S3, SHA-256 not declared, {label}", undeclared, "MB/s", base, bname)
    print(
        f"  medians of {args.repeat}, alternated; runs (MB/s): "
        + "; ".join(
            f"{k} " + ", ".join(f"{size / t / MB:,.0f}" for t in v) for k, v in runs.items()
        ),
        flush=True,
    )
    gib = size / GiB
    print(
        "  CPU s per GiB (S3 server / vault / this client process), medians: "
        + "; ".join(
            f"{k} "
            + " / ".join(f"{statistics.median(c[i] for c in v) / gib:.1f}" for i in range(3))
            for k, v in cpu.items()
        ),
        flush=True,
    )
    report(
        f"vault peak RSS, S3, {label} uploads",
        peak / MiB,
        "MiB",
        small_peak / MiB,
        f"peak RSS {args.small} MiB upload",
    )
    growth = (peak - small_peak) / MiB
    ratios = {"declared": declared / base, "undeclared": undeclared / base}
    verdicts = "; ".join(
        f"{kind} {r:.2f} >= 0.90 {'ok' if r >= 0.9 else 'BELOW TARGET'}"
        for kind, r in ratios.items()
    )
    print(
        f"# targets: S3 ingest/boto3: {verdicts}; "
        f"peak RSS growth {growth:+.1f} MiB (flat: <= 100, parts in flight) "
        f"{'ok' if growth <= 100 else 'GROWS'}",
        flush=True,
    )


def main() -> None:
    global server_tree
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024, help="large upload (MiB)")
    ap.add_argument("--small", type=int, default=100, help="small upload for the RSS check (MiB)")
    ap.add_argument("--repeat", type=int, default=3, help="large uploads per kind (median kept)")
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--uploads", type=int, default=200, help="1 MiB uploads in the concurrency run")
    ap.add_argument("--no-curl", action="store_true")
    ap.add_argument("--no-s3", action="store_true", help="skip the SeaweedFS + PostgreSQL part")
    ap.add_argument("--no-local", action="store_true", help="skip the local-store part")
    ap.add_argument("--quick", action="store_true", help="smoke mode: small sizes, one run each")
    ap.add_argument(
        "--server-tree", type=Path, help="run `locard serve` from this checkout (A/B runs)"
    )
    ap.add_argument(
        "--profile",
        type=Path,
        help="py-spy record one extra large local upload (with --no-local: S3, SHA-256 "
        "declared) to this file (.svg/.json/.txt)",
    )
    args = ap.parse_args()
    if args.quick:
        args.size_mib, args.small, args.repeat = 16, 8, 1
        args.uploads, args.concurrency = 16, 4
    if args.server_tree is not None:
        server_tree = args.server_tree.resolve()
    signal.signal(signal.SIGTERM, _raise_exit)

    print(f"# Locard ingest benchmark — {machine_info()}; {load_average()}", flush=True)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="locard-bench-")))
        big = make_random_file(tmp / "big.bin", args.size_mib * MiB)
        base = hash_baselines(big, args.repeat, args.quick)
        if not args.no_local:
            local_section(args, tmp, big, base)
        if not args.no_s3:
            s3_section(args, tmp, big)
        print(
            f"# {load_average()} at the end; with other work on the machine, wall-clock "
            "figures are noisy and the CPU-per-GiB line is the steadier one",
            flush=True,
        )


if __name__ == "__main__":
    main()
