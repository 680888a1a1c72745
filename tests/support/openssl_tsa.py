"""OpenSSL as an independent RFC 3161 producer and judge, for tests.

`OpenSSLTSA` makes a P-256 CA and TSA certificate with the `openssl` command and serves
`openssl ts -reply` over HTTP on 127.0.0.1; `openssl_ts_verify` asks `openssl ts -verify` for
its verdict on a token. Neither depends on pytest.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from asn1crypto import pem

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
#: Policy of the test TSA: a UUID-derived OID (ITU-T X.667 arc 2.25), never a real TSA's.
OPENSSL_TSA_POLICY = "2.25.101877336016331447360411315389839738113"


def run_openssl(*args: str | Path, cwd: Path | None = None, stdin: bytes | None = None) -> str:
    """Run `openssl`, returning its combined output; raise AssertionError when it fails."""
    proc = subprocess.run(
        ["openssl", *map(str, args)],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=30,
        check=False,
    )
    output = (proc.stdout + proc.stderr).decode(errors="replace")
    if proc.returncode != 0:
        raise AssertionError(f"openssl {' '.join(map(str, args))} failed:\n{output}")
    return output


def make_ca(
    directory: Path, *, name: str = "OpenSSL test TSA root", days: int = 3650
) -> tuple[Path, Path]:
    """A self-signed P-256 CA in `directory`; returns (certificate, key) paths."""
    cert, key = directory / "ca.pem", directory / "ca.key"
    run_openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", cert, "-days", str(days), "-subj", f"/O=Locard tests/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return cert, key


def make_intermediate(directory: Path, ca_cert: Path, ca_key: Path) -> tuple[Path, Path]:
    """A P-256 intermediate CA issued by the root; returns (certificate, key) paths."""
    cert, key, csr = directory / "inter.pem", directory / "inter.key", directory / "inter.csr"
    ext = directory / "inter.ext"
    ext.write_text(
        "[v3_ca]\nbasicConstraints = critical,CA:TRUE,pathlen:0\n"
        "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid\n"
    )
    run_openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/O=Locard tests/CN=OpenSSL test TSA intermediate",
    )  # fmt: skip
    run_openssl(
        "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
        "-days", "1825", "-extfile", ext, "-extensions", "v3_ca", "-out", cert,
    )  # fmt: skip
    return cert, key


def make_tsa_cert(
    directory: Path,
    ca_cert: Path,
    ca_key: Path,
    *,
    stem: str = "tsa",
    eku: str | None = "critical,timeStamping",
    name: str = "OpenSSL test TSA",
    days: int = 365,
    crl_url: str | None = None,
) -> tuple[Path, Path]:
    """A P-256 TSA certificate issued by the CA; `eku=None` leaves the EKU out; `crl_url`
    names where its CA publishes its CRL."""
    cert, key, csr = directory / f"{stem}.pem", directory / f"{stem}.key", directory / f"{stem}.csr"
    ext = directory / f"{stem}.ext"
    lines = [
        "basicConstraints = critical,CA:FALSE",
        "keyUsage = critical,digitalSignature,nonRepudiation",
        "subjectKeyIdentifier = hash",
        "authorityKeyIdentifier = keyid",
    ]
    if eku is not None:
        lines.append(f"extendedKeyUsage = {eku}")
    if crl_url is not None:
        lines.append(f"crlDistributionPoints = URI:{crl_url}")
    ext.write_text("[v3_tsa]\n" + "\n".join(lines) + "\n")
    run_openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", f"/O=Locard tests/CN={name}",
    )  # fmt: skip
    run_openssl(
        "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
        "-days", str(days), "-extfile", ext, "-extensions", "v3_tsa", "-out", cert,
    )  # fmt: skip
    return cert, key


def der_of(pem_path: Path) -> bytes:
    _, _, der = pem.unarmor(pem_path.read_bytes())
    return bytes(der)


def _tsa_config(
    directory: Path, cert: Path, key: Path, chain: Path | None, ess_cert_id_alg: str | None
) -> str:
    # `certs =` makes OpenSSL embed a chain, in an order that is not DER-sorted.
    certs = "" if chain is None else f"certs = {chain}\n"
    # Without `ess_cert_id_alg` OpenSSL writes the RFC 2634 (SHA-1) SigningCertificate.
    ess = "" if ess_cert_id_alg is None else f"ess_cert_id_alg = {ess_cert_id_alg}\n"
    return f"""\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
dir = {directory}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = {cert}
signer_key = {key}
signer_digest = sha256
default_policy = {OPENSSL_TSA_POLICY}
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
{ess}{certs}"""


def _serve(server: ThreadingHTTPServer) -> None:
    # A short poll interval: `shutdown()` waits up to one interval, 0.5 s by default.
    server.serve_forever(poll_interval=0.02)


class OpenSSLTSA:
    """`openssl ts -reply` behind a ThreadingHTTPServer on 127.0.0.1 (an ephemeral port).

    With `intermediate=True` the TSA certificate is issued by an intermediate CA and every
    token embeds the intermediate and the root as well (an OpenSSL `certs =` chain).
    """

    def __init__(
        self,
        directory: Path | None = None,
        *,
        intermediate: bool = False,
        ess_cert_id_alg: str | None = "sha256",
        days: int = 365,
        crl_url: str | None = None,
    ) -> None:
        self._own_dir = directory is None
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix="openssl-tsa-"))
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca_pem_path, self._ca_key = make_ca(self.directory, days=max(3650, days))
        issuer_cert, issuer_key = self.ca_pem_path, self._ca_key
        self.intermediate_pem_path: Path | None = None
        chain: Path | None = None
        if intermediate:
            issuer_cert, issuer_key = make_intermediate(self.directory, issuer_cert, issuer_key)
            self.intermediate_pem_path = issuer_cert
            chain = self.directory / "chain.pem"
            chain.write_bytes(issuer_cert.read_bytes() + self.ca_pem_path.read_bytes())
        self.tsa_pem_path, self._tsa_key = make_tsa_cert(
            self.directory, issuer_cert, issuer_key, days=days, crl_url=crl_url
        )
        (self.directory / "tsaserial").write_text("01\n")
        self.config_path = self.directory / "tsa.cnf"
        self.config_path.write_text(
            _tsa_config(self.directory, self.tsa_pem_path, self._tsa_key, chain, ess_cert_id_alg)
        )
        self._lock = threading.Lock()  # `ts -reply` rewrites the serial file: one at a time
        self._counter = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests = 0

    @property
    def ca_key_path(self) -> Path:
        """The root's key: tests sign its CRL with it."""
        return self._ca_key

    @property
    def ca_der(self) -> bytes:
        return der_of(self.ca_pem_path)

    @property
    def tsa_cert_der(self) -> bytes:
        return der_of(self.tsa_pem_path)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the OpenSSL TSA is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/tsa"

    def reply(self, query: bytes) -> bytes:
        """Run `openssl ts -reply` on a DER query; the DER response (possibly a rejection)."""
        with self._lock:
            self._counter += 1
            self.requests += 1
            query_path = self.directory / f"q{self._counter}.tsq"
            reply_path = self.directory / f"r{self._counter}.tsr"
            query_path.write_bytes(query)
            try:
                # It exits 0 also when it wrote a rejection; the client reads the status.
                run_openssl(
                    "ts", "-reply", "-config", self.config_path,
                    "-queryfile", query_path, "-out", reply_path,
                )  # fmt: skip
                return reply_path.read_bytes()
            finally:
                query_path.unlink(missing_ok=True)
                reply_path.unlink(missing_ok=True)

    def start(self) -> OpenSSLTSA:
        if self._server is not None:
            return self
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.headers.get("Content-Type", "").split(";")[0].strip() != QUERY_TYPE:
                    self._send(415, b"expected " + QUERY_TYPE.encode(), "text/plain")
                    return
                try:
                    reply = tsa.reply(body)
                except AssertionError as exc:
                    self._send(500, str(exc).encode(), "text/plain")
                    return
                self._send(200, reply, REPLY_TYPE)

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # keep test output quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=_serve, args=(self._server,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> OpenSSLTSA:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class FixedResponseServer:
    """An HTTP server answering every POST with the same bytes: a replaying or broken TSA."""

    def __init__(self, body: bytes, *, status: int = 200, content_type: str = REPLY_TYPE) -> None:
        self.body, self.status, self.content_type = body, status, content_type
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def __enter__(self) -> FixedResponseServer:
        fixed = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(fixed.status)
                self.send_header("Content-Type", fixed.content_type)
                self.send_header("Content-Length", str(len(fixed.body)))
                self.end_headers()
                self.wfile.write(fixed.body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=_serve, args=(self._server,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def openssl_ts_verify(
    tsr_der: bytes,
    digest: bytes,
    ca_pem: bytes,
    *,
    token_in: bool = False,
    untrusted_pem: bytes | None = None,
) -> None:
    """Assert that `openssl ts -verify` accepts the response (or bare token) over `digest`."""
    with tempfile.TemporaryDirectory(prefix="ts-verify-") as tmp:
        directory = Path(tmp)
        (directory / "r.der").write_bytes(tsr_der)
        (directory / "ca.pem").write_bytes(ca_pem)
        args: list[str | Path] = ["ts", "-verify", "-digest", digest.hex(), "-in", "r.der"]
        args += ["-CAfile", "ca.pem"]
        if token_in:
            args.append("-token_in")
        if untrusted_pem is not None:
            (directory / "untrusted.pem").write_bytes(untrusted_pem)
            args += ["-untrusted", "untrusted.pem"]
        proc = subprocess.run(
            ["openssl", *map(str, args)], cwd=directory, capture_output=True, timeout=30
        )
        output = (proc.stdout + proc.stderr).decode(errors="replace")
        if "Verification: OK" not in output:
            raise AssertionError(f"openssl ts -verify refused the token:\n{output}")
