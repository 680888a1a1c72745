"""Search over real HTTP on SQLite (FTS5) and PostgreSQL (tsvector): cases, timeline text
and artifacts found by their words, artifacts by any of their three hashes, only in the
cases the principal may see; bad queries refused with a 4xx and no write."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from app.audit import audit
from tests.support.live_server import LiveVault

MEMORY = b"search test memory image " * 64


@pytest.fixture(scope="module")
def live(module_live: LiveVault) -> LiveVault:
    if "outsider" not in module_live.tokens:
        module_live.add_user("outsider", "collector")
    return module_live


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


@pytest.fixture(scope="module")
def case(live: LiveVault) -> dict[str, str]:
    with live.client("collector") as c:
        case = _ok(
            c.post(
                "/v1/cases",
                json={
                    "title": "Ransomware on WS-FIN-042",
                    "description": "Encrypted the quarterly ledger share",
                    "severity": "P1",
                },
            ),
            201,
        )["case"]["id"]
        _ok(c.post(f"/v1/cases/{case}/notes", json={"text": "Phishing mail from Mallory"}), 201)
        _ok(
            c.post(
                f"/v1/cases/{case}/actions",
                json={"action": "isolate_host", "target": "WS-FIN-042", "outcome": "succeeded"},
            ),
            201,
        )
        art = _ok(
            c.post(
                f"/v1/cases/{case}/artifacts",
                params={
                    "file_name": "memdump-fin042.raw",
                    "source_host": "WS-FIN-042",
                    "notes": "Volatility baseline attached",
                },
                content=MEMORY,
            ),
            201,
        )["artifact"]["id"]
        _ok(c.patch(f"/v1/cases/{case}", json={"title": "Kraken ransomware on WS-FIN-042"}))
    return {"case": case, "artifact": art}


def _search(live: LiveVault, role: str, q: str, **params: Any) -> dict[str, Any]:
    with live.client(role) as c:
        return dict(_ok(c.get("/v1/search", params={"q": q, **params})))


def _hits(out: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(h["kind"], h["case"], h["type"]) for h in out["results"]}


def test_words_of_cases_timeline_and_artifacts_are_found(
    live: LiveVault, case: dict[str, str]
) -> None:
    cid = case["case"]
    assert ("case", cid, "case.created") in _hits(_search(live, "legal", "quarterly ledger"))
    # the title as changed is found, and the hit names the case by its current title
    kraken = _search(live, "auditor", "kraken")
    assert _hits(kraken) == {("case", cid, "case.updated")}
    assert kraken["results"][0]["case_title"] == "Kraken ransomware on WS-FIN-042"
    assert _hits(_search(live, "legal", "mallory")) == {("event", cid, "case.note")}
    art = _search(live, "legal", "memdump raw")
    assert [(h["kind"], h["ref"]) for h in art["results"]] == [("artifact", case["artifact"])]
    assert art["results"][0]["summary"].startswith("Collected memdump-fin042.raw")
    assert _hits(_search(live, "legal", "volatil")) == {("artifact", cid, "ingest")}
    # a host name with hyphens matches the same on both engines, prefixes too
    fin = _hits(_search(live, "admin", "ws-fin-04"))
    assert {("case", cid, "case.created"), ("event", cid, "containment")} <= fin
    assert ("artifact", cid, "ingest") in fin
    assert _search(live, "legal", "mallory nothere")["results"] == []
    assert _search(live, "legal", "Mallory")["hash"] is None


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "md5"])
def test_hash_lookup_finds_the_artifact(
    live: LiveVault, case: dict[str, str], algorithm: str
) -> None:
    digest = hashlib.new(algorithm, MEMORY).hexdigest()
    for q in (digest, digest.upper()):
        out = _search(live, "legal", q)["hash"]
        assert out["algorithm"] == algorithm
        assert [a["id"] for a in out["artifacts"]] == [case["artifact"]]
        assert out["artifacts"][0][algorithm] == digest
    other = hashlib.new(algorithm, b"never stored").hexdigest()
    assert _search(live, "legal", other)["hash"]["artifacts"] == []


def test_a_principal_sees_only_its_cases(live: LiveVault, case: dict[str, str]) -> None:
    digest = hashlib.sha256(MEMORY).hexdigest()
    assert _search(live, "collector", "mallory")["results"]  # a member of the case
    assert _search(live, "outsider", "mallory")["results"] == []
    assert _search(live, "outsider", "ws fin 042")["results"] == []
    assert _search(live, "outsider", digest)["hash"]["artifacts"] == []
    with live.client(None) as c:
        assert c.get("/v1/search", params={"q": "mallory"}).status_code == 401
        bad = {"Authorization": "Bearer not-a-token"}
        assert c.get("/v1/search", params={"q": "mallory"}, headers=bad).status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": '"'},
        {"q": ":*"},
        {"q": "()&|!*"},
        {"q": "x" * 201},
        {"q": " ".join(f"w{i}" for i in range(9))},
        {"q": "mallory", "limit": 0},
        {"q": "mallory", "limit": 51},
        {"q": "mallory", "limit": "many"},
    ],
)
def test_bad_queries_are_refused_without_a_write(
    live: LiveVault, case: dict[str, str], params: dict[str, Any]
) -> None:
    size = live.vault.ledger.size()
    with live.client("legal") as c:
        r = c.get("/v1/search", params=params)
        assert 400 <= r.status_code < 500, r.text
        assert r.status_code in (400, 422)
    assert live.vault.ledger.size() == size


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ('mallory"', True),
        ("mallory:*", True),
        ("mallory*", True),
        ("-mallory", True),
        ("(mallory)", True),
        ('NEAR(mallory, "zzq")', False),
        ("mallory & !zzq", False),
    ],
)
def test_fts_syntax_is_read_as_words(
    live: LiveVault, case: dict[str, str], q: str, found: bool
) -> None:
    # Operators never reach either engine: the words left are all required.
    hits = _hits(_search(live, "legal", q))
    assert hits == ({("event", case["case"], "case.note")} if found else set())


def test_index_rows_are_the_projection_of_the_archive(
    live: LiveVault, case: dict[str, str]
) -> None:
    assert audit(live.vault, content=False).ok
