"""Ingest benchmarks: streaming upload throughput, server memory, concurrent small uploads.

Run: `.venv/bin/python -m bench.ingest [--size-mib 1024] [--small 100] [--profile out.txt]`.

Every vault runs as its own `locard serve` subprocess (SQLite, local store, default
settings) on a free 127.0.0.1 port, so the client and the server do not share a GIL.
Every figure is printed as a ratio against a baseline measured in the same run:

* throughput: `sha256sum` of the same file (MB/s, MB = 10^6 bytes);
* peak RSS: the same server idle, and the 100 MiB upload's peak for the 1 GiB one;
* concurrency: a bare HTTP sink on the same server stack (uvicorn, same event loop and
  HTTP parser) that reads and SHA-256-hashes each body and answers 201, driven by the
  same load generator. The ratio is what the vault (auth, DB, hashing x3, fsync, sealed
  ledger event and receipt) keeps of the transport's capacity. Each vault upload waits
  for its ledger seal (default <= 250 ms), which bounds latency from below.
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
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from bench.common import machine_info, report
from storage.hashing import MultiHasher

MB = 1_000_000
MiB = 1 << 20
GiB = 1 << 30
CHUNK = MiB
REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 60.0
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
    exe = shutil.which("sha256sum")
    best, best_cpu, digest = float("inf"), 0.0, ""
    for _ in range(repeat):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c0 = time.process_time()
        t0 = time.perf_counter()
        if exe:
            out = subprocess.run([exe, str(path)], check=True, capture_output=True, text=True)
            digest = out.stdout.split()[0]
        else:  # no coreutils: hashlib, and the label says so
            h = hashlib.sha256()
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
        "sha256sum" if exe else "hashlib sha256", size / best / MB, best_cpu * GiB / size, digest
    )


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
    cmd: list[str], log: Path, health: str, port: int, *, cwd: Path = REPO
) -> Iterator[Server]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
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


def _cli(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


@contextmanager
def vault_server(root: Path, tag: str) -> Iterator[Server]:
    """A fresh vault (init, one collector, one case) served by `locard serve`."""
    data = root / f"vault-{tag}"
    _cli("init", "--data-dir", str(data))
    token = _cli("user", "add", "bench", "--role", "collector", "--data-dir", str(data))
    port = free_port()
    cmd = [sys.executable, "-m", "cli.main", "serve", "--data-dir", str(data), "--port", str(port)]
    with running(cmd, root / f"vault-{tag}.log", "/healthz", port) as server:
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


def upload_httpx(server: Server, path: Path, expect_sha256: str | None) -> float:
    """Stream `path` in 1 MiB chunks with Content-Length; returns seconds to the 201."""
    size = path.stat().st_size
    headers = server.headers() | {
        "Content-Length": str(size),
        "Content-Type": "application/octet-stream",
    }
    with httpx.Client(timeout=UPLOAD_TIMEOUT) as client:
        t0 = time.perf_counter()
        r = client.post(
            server.upload_url(),
            params={"file_name": path.name},
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
    collapsed stacks (which `summarize_profile` reads).
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024, help="large upload (MiB)")
    ap.add_argument("--small", type=int, default=100, help="small upload for the RSS check (MiB)")
    ap.add_argument("--repeat", type=int, default=3, help="large httpx uploads (best is kept)")
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--uploads", type=int, default=200, help="1 MiB uploads in the concurrency run")
    ap.add_argument("--no-curl", action="store_true")
    ap.add_argument(
        "--profile",
        type=Path,
        help="py-spy record one extra large upload to this file (.svg/.json/.txt)",
    )
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, _raise_exit)

    print(f"# Locard ingest benchmark — {machine_info()}; {load_average()}", flush=True)
    size, small_size = args.size_mib * MiB, args.small * MiB
    label = f"{args.size_mib} MiB"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="locard-bench-")))
        big = make_random_file(tmp / "big.bin", size)
        small = make_random_file(tmp / "small.bin", small_size)
        small_sha = hashlib.sha256(small.read_bytes()).hexdigest()
        bodies = [os.urandom(MiB) for _ in range(args.uploads)]

        base = sha256sum_baseline(big, args.repeat)
        bname = f"{base.name} MB/s"
        report(f"{base.name} {label}", base.mbs, "MB/s", base.mbs, bname)
        report(
            "in-process sha256+sha1+md5 (1 thread)", multihash_rate(big), "MB/s", base.mbs, bname
        )

        # The transport alone: same uvicorn stack, body only hashed (SHA-256).
        with sink_server(tmp) as sink:
            t = min(upload_httpx(sink, big, base.digest) for _ in range(args.repeat))
            report(f"httpx -> bare sink {label}", size / t / MB, "MB/s", base.mbs, bname)
            sink_load = concurrent_uploads(sink, bodies, args.concurrency)

        # Throughput, CPU and memory with the large upload, in a fresh server.
        with vault_server(tmp, "big") as vault:
            cpu0 = cpu_seconds(vault.pid)
            with RssSampler(vault.pid) as rss:
                times = [upload_httpx(vault, big, base.digest)]
            cpu = cpu_seconds(vault.pid) - cpu0
            big_peak = rss.peak
            times += [upload_httpx(vault, big, base.digest) for _ in range(args.repeat - 1)]
            mbs = size / min(times) / MB
            ratio = mbs / base.mbs
            report(
                f"httpx -> vault ingest {label} (best of {len(times)})",
                mbs,
                "MB/s",
                base.mbs,
                bname,
            )
            print(
                "  all runs: " + ", ".join(f"{size / t / MB:,.1f}" for t in times) + " MB/s",
                flush=True,
            )
            report(
                "vault server CPU per GiB ingested (user+sys)",
                cpu * GiB / size,
                "s",
                base.cpu_s_per_gib,
                f"{base.name} CPU s per GiB",
            )
            if not args.no_curl and (curl := upload_curl(vault, big, base.digest)) is not None:
                report(
                    f"curl {curl[1]} -> vault ingest {label}",
                    size / curl[0] / MB,
                    "MB/s",
                    base.mbs,
                    bname,
                )
            if args.profile is not None:
                out = args.profile.resolve()
                with py_spy(vault.pid, out):
                    t_prof = upload_httpx(vault, big, base.digest)
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
            f"vault peak RSS, {label} upload",
            big_peak / MiB,
            "MiB",
            small_peak / MiB,
            f"peak RSS {args.small} MiB upload",
        )
        growth = (big_peak - small_peak) / MiB
        report(f"peak RSS growth {args.small} MiB -> {label}", growth, "MiB", 20.0, "allowed MiB")

        tag = f"{args.concurrency}x1 MiB"
        report(
            f"vault {tag} uploads/s", load.rate, "uploads/s", sink_load.rate, "bare sink uploads/s"
        )
        report(f"vault {tag} p50 latency", load.p50_ms, "ms", sink_load.p50_ms, "bare sink p50 ms")
        report(f"vault {tag} p99 latency", load.p99_ms, "ms", sink_load.p99_ms, "bare sink p99 ms")
        for what, res in (("bare sink", sink_load), ("vault", load)):
            for err, n in res.failures.most_common():
                print(f"  FAILED {what}: {n}/{len(bodies)} uploads: {err}", flush=True)

        failed = sum(load.failures.values())
        print(
            f"# targets: ingest/{base.name} {ratio:.2f} >= 0.70 "
            f"{'ok' if ratio >= 0.7 else 'BELOW TARGET'}; "
            f"RSS growth {growth:+.1f} MiB <= 20 MiB {'ok' if growth <= 20 else 'GROWS'}; "
            f"concurrent uploads failed: {failed}/{len(bodies)}",
            flush=True,
        )
        print(
            f"# {load_average()} at the end; with other work on the machine, wall-clock "
            "figures are noisy and the CPU-per-GiB line is the steadier one",
            flush=True,
        )


if __name__ == "__main__":
    main()
