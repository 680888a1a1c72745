"""Who may do what, over real HTTP: every route of the app against every kind of caller.

The matrix is keyed by the app's own routes, so an endpoint added without an entry here
fails `test_matrix_covers_every_route` instead of shipping with unreviewed access.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from app.main import create_app
from app.settings import Settings
from tests.api.helpers import assert_refused, auth, untouched, vault_state
from tests.collectors.builders import Velociraptor
from tests.support.live_server import ROLES, LiveVault

ANYONE = frozenset(ROLES)
WRITERS = frozenset({"collector", "admin"})
LEGAL = frozenset({"legal", "admin"})
#: legal holds: legal alone (separation of duties, issue 5)
HOLDERS = frozenset({"legal"})
PROOF_READERS = frozenset({"auditor", "legal", "admin"})
ADMIN = frozenset({"admin"})


def _tlog(w: World, path: str) -> Call:
    """A tile that every published tree has (tiles are published as each seal happens)."""
    return Call("GET", f"/tlog/{path}")


def app_routes() -> set[tuple[str, str]]:
    """(method, path) of every route. FastAPI keeps included routers as one entry each in
    `app.routes`; `iter_route_contexts` flattens them into the routes that serve requests."""
    app = create_app(Settings())
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        # A mount or websocket has no methods: it would escape the matrix, so refuse it.
        assert route.methods and route.path, f"route without methods/path: {route!r}"
        found |= {(m, route.path) for m in route.methods}
    return found


# -- the world the requests act on ---------------------------------------------------


@dataclass
class World:
    live: LiveVault
    case: str = ""
    artifact: str = ""
    other_case: str = ""
    other_artifact: str = ""
    other_sha256: str = ""
    review_item: tuple[str, str] | None = None
    spare_upload: str | None = None
    shared_playbook_case: str | None = None
    collection: str | None = None
    #: one connection pool for the whole module: a new httpx.Client costs ~20 ms (TLS
    #: context), which over hundreds of requests was most of this module's run time
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.live.url, timeout=60)

    def as_(self, name: str) -> dict[str, str]:
        return auth(self.live.tokens[name])

    def request(self, kind: str = "create") -> str:
        """A pending principal request made by the second admin, for the first to decide."""
        if kind == "create":
            body = {"name": f"p-{uuid.uuid4().hex[:8]}", "role": "legal"}
            r = self.http.post("/v1/principals", json=body, headers=self.as_("admin-b"))
        else:
            name = f"c-{uuid.uuid4().hex[:8]}"
            self.live.add_user(name, "collector")
            r = self.http.post(
                f"/v1/principals/{name}/role", json={"role": "legal"}, headers=self.as_("admin-b")
            )
        assert r.status_code == 202, r.text
        return str(r.json()["request"]["id"])

    def spare_principal(self) -> str:
        name = f"s-{uuid.uuid4().hex[:8]}"
        self.live.add_user(name, "collector")
        return name

    def new_case(self, owner: str = "collector") -> str:
        r = self.http.post(
            "/v1/cases",
            json={"title": f"case of {owner}", "severity": "P2"},
            headers=self.as_(owner),
        )
        assert r.status_code == 201, r.text
        case = str(r.json()["case"]["id"])
        # legal joins, so that custody can be handed to it (transfers go to members only)
        r = self.http.post(
            f"/v1/cases/{case}/members", json={"principal": "legal"}, headers=self.as_(owner)
        )
        assert r.status_code == 201, r.text
        return case

    def new_artifact(self, case: str | None = None, owner: str = "collector") -> dict[str, Any]:
        data = f"evidence {uuid.uuid4()}".encode()
        r = self.http.post(
            f"/v1/cases/{case or self.case}/artifacts",
            params={"file_name": "disk.img", "sha256": hashlib.sha256(data).hexdigest()},
            content=data,
            headers=self.as_(owner),
        )
        assert r.status_code == 201, r.text
        art: dict[str, Any] = r.json()["artifact"]
        return art

    def review(self) -> tuple[str, str]:
        """(review id, action item id) of one lessons-learned review of the shared case, made
        once; its item is owned by the collector."""
        if not self.review_item:
            r = self.http.post(
                f"/v1/cases/{self.case}/reviews",
                json={
                    "summary": "phishing led to ransomware",
                    "action_items": [{"title": "MFA", "owner": "collector", "due": "2030-01-01"}],
                },
                headers=self.as_("collector"),
            )
            assert r.status_code == 201, r.text
            review = r.json()["review"]
            self.review_item = (str(review["id"]), str(review["action_items"][0]["id"]))
        return self.review_item

    def asset(self) -> str:
        """`<case>/assets/<asset id>` of one asset of the shared case, recorded once."""
        r = self.http.post(
            f"/v1/cases/{self.case}/assets",
            json={"kind": "host", "name": "WS-FIN-042", "owner": "IT", "criticality": "high"},
            headers=self.as_("collector"),
        )
        assert r.status_code == 200, r.text
        return f"{self.case}/assets/{r.json()['asset']['id']}"

    def collection_sha256(self) -> str:
        """SHA-256 of a collection ingested once into the shared case."""
        if not self.collection:
            data = Velociraptor(hostname="HOST-PROGRESS").build()
            r = self.http.post(
                f"/v1/cases/{self.case}/collections",
                params={"file_name": "progress.zip"},
                content=data,
                headers=self.as_("collector"),
            )
            assert r.status_code == 201, r.text
            self.collection = hashlib.sha256(data).hexdigest()
        return self.collection

    def playbook_case(self, role: str | None) -> str:
        """A case classified as ransomware: a fresh one for those who may record its steps
        (each step is recorded once), else one shared case."""
        if role in WRITERS or self.shared_playbook_case is None:
            case = self.new_case()
            r = self.http.post(
                f"/v1/cases/{case}/classification",
                json={"scenario": "ransomware"},
                headers=self.as_("collector"),
            )
            assert r.status_code == 200, r.text
            if role in WRITERS:
                return case
            self.shared_playbook_case = case
        return self.shared_playbook_case

    # A refused request never reaches the resource, so only allowed roles get fresh ones:
    # every sealed write costs ~0.1-0.3 s of fsyncs here.

    def fresh_case(self, role: str | None) -> str:
        """A case without a legal hold yet, for those who may place one."""
        return self.new_case() if role in LEGAL else self.case

    def fresh_artifact(self, role: str | None) -> str:
        """An artifact the collector still holds, for those who may hand it on."""
        return str(self.new_artifact()["id"]) if role in WRITERS else self.artifact

    def new_upload(self, role: str | None, *, filled: bool = False) -> str:
        """A resumable upload session. Sessions are visible to their creator only, so an
        allowed role acts on its own; for everyone else it is the collector's."""
        if role not in WRITERS:
            if self.spare_upload is None:
                self.spare_upload = self.new_upload("collector", filled=filled)
            return self.spare_upload
        owner = role
        data = f"resumable {uuid.uuid4()}".encode()
        r = self.http.post(
            f"/v1/cases/{self.case}/uploads",
            json={
                "file_name": "big.img",
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            },
            headers=self.as_(owner),
        )
        assert r.status_code == 201, r.text
        upload_id = str(r.json()["upload_id"])
        if filled:
            r = self.http.patch(
                f"/v1/uploads/{upload_id}",
                content=data,
                headers={**self.as_(owner), "Upload-Offset": "0"},
            )
            assert r.status_code == 200, r.text
        return upload_id


@pytest.fixture(scope="module")
def world(module_live: LiveVault) -> Iterator[World]:
    w = World(module_live)
    module_live.add_user("collector-b", "collector")
    module_live.add_user("admin-b", "admin")
    w.case = w.new_case()
    w.artifact = w.new_artifact()["id"]
    w.other_case = w.new_case("collector-b")
    other = w.new_artifact(w.other_case, "collector-b")
    w.other_artifact, w.other_sha256 = other["id"], other["sha256"]
    try:
        yield w
    finally:
        w.http.close()


# -- the matrix ----------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    params: dict[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] | None = None  # an HTML form


#: builds a valid request for a role; may create fresh state (a case, an artifact) first,
#: so that state-changing calls by one role do not decide the outcome for the next
Builder = Callable[[World, "str | None"], Call]


@dataclass(frozen=True)
class Rule:
    #: roles that may do it; None: public by design (no token needed, any token ignored)
    allowed: frozenset[str] | None
    build: Builder
    #: a web page: no (valid) credentials redirect to the sign-in page, a refused role
    #: gets an HTML 403; the API answers 401/403 with a JSON reason instead
    page: bool = False
    #: what a public route answers, whoever asks
    public_ok: frozenset[int] = frozenset({200})


def _page(allowed: frozenset[str] | None, build: Builder, **kw: Any) -> Rule:
    return Rule(allowed, build, page=True, **kw)


def _form(url: str, **data: str) -> Builder:
    return lambda w, r: Call("POST", url.format(w=w), data=data)


def _get(url: str) -> Builder:
    return lambda w, role: Call("GET", url.format(w=w))


def _size(w: World) -> int:
    return w.live.vault.ledger.size()


MATRIX: dict[tuple[str, str], Rule] = {
    # Public by design: API docs, liveness, and the keys auditors and witnesses pin.
    ("GET", "/openapi.json"): Rule(None, _get("/openapi.json")),
    ("HEAD", "/openapi.json"): Rule(None, lambda w, r: Call("HEAD", "/openapi.json")),
    ("GET", "/docs"): Rule(None, _get("/docs")),
    ("HEAD", "/docs"): Rule(None, lambda w, r: Call("HEAD", "/docs")),
    ("GET", "/docs/oauth2-redirect"): Rule(None, _get("/docs/oauth2-redirect")),
    ("HEAD", "/docs/oauth2-redirect"): Rule(
        None, lambda w, r: Call("HEAD", "/docs/oauth2-redirect")
    ),
    ("GET", "/redoc"): Rule(None, _get("/redoc")),
    ("HEAD", "/redoc"): Rule(None, lambda w, r: Call("HEAD", "/redoc")),
    ("GET", "/healthz"): Rule(None, _get("/healthz")),
    ("GET", "/v1/keys"): Rule(None, _get("/v1/keys")),
    # The ledger as C2SP tlog-tiles: checkpoint and hash tiles are public (they reveal
    # nothing); entry bundles hold the events (names, reasons), so proof readers only.
    ("GET", "/tlog/checkpoint"): Rule(None, _get("/tlog/checkpoint")),
    ("GET", "/tlog/tile/{path:path}"): Rule(None, lambda w, r: _tlog(w, "tile/0/000.p/1")),
    ("GET", "/tlog/tile/entries/{path:path}"): Rule(
        PROOF_READERS, lambda w, r: _tlog(w, "tile/entries/000.p/1")
    ),
    ("GET", "/v1/keys/crl"): Rule(None, _get("/v1/keys/crl")),
    ("GET", "/v1/keys/root.crl"): Rule(None, _get("/v1/keys/root.crl")),
    # Cases
    ("POST", "/v1/cases"): Rule(
        WRITERS,
        lambda w, r: Call("POST", "/v1/cases", json={"title": f"by {r}", "severity": "P3"}),
    ),
    ("GET", "/v1/cases"): Rule(ANYONE, _get("/v1/cases")),
    ("GET", "/v1/cases/{case_id}"): Rule(ANYONE, _get("/v1/cases/{w.case}")),
    ("PATCH", "/v1/cases/{case_id}"): Rule(
        WRITERS,
        lambda w, r: Call("PATCH", f"/v1/cases/{w.case}", json={"description": f"by {r}"}),
    ),
    ("POST", "/v1/cases/{case_id}/members"): Rule(
        WRITERS,
        lambda w, r: Call("POST", f"/v1/cases/{w.case}/members", json={"principal": "legal"}),
    ),
    ("POST", "/v1/cases/{case_id}/hold"): Rule(
        HOLDERS,
        lambda w, r: Call(
            "POST", f"/v1/cases/{w.fresh_case(r)}/hold", json={"on": True, "reason": "litigation"}
        ),
    ),
    # Artifacts
    ("POST", "/v1/cases/{case_id}/artifacts"): Rule(
        WRITERS,
        lambda w, r: Call(
            "POST",
            f"/v1/cases/{w.case}/artifacts",
            params={"file_name": f"from-{r}.bin"},
            content=f"bytes from {r}".encode(),
        ),
    ),
    ("POST", "/v1/cases/{case_id}/collections"): Rule(
        WRITERS,
        lambda w, r: Call(
            "POST",
            f"/v1/cases/{w.case}/collections",
            params={"file_name": f"collection-{r}.zip"},
            content=Velociraptor(hostname=f"HOST-{r}").build(),
        ),
    ),
    ("GET", "/v1/cases/{case_id}/collections/progress"): Rule(
        WRITERS,
        lambda w, r: Call(
            "GET",
            f"/v1/cases/{w.case}/collections/progress",
            params={"sha256": w.collection_sha256()},
        ),
    ),
    ("GET", "/v1/cases/{case_id}/artifacts"): Rule(ANYONE, _get("/v1/cases/{w.case}/artifacts")),
    ("GET", "/v1/artifacts/{artifact_id}"): Rule(ANYONE, _get("/v1/artifacts/{w.artifact}")),
    ("HEAD", "/v1/artifacts/{artifact_id}/content"): Rule(
        ANYONE, lambda w, r: Call("HEAD", f"/v1/artifacts/{w.artifact}/content")
    ),
    ("GET", "/v1/artifacts/{artifact_id}/content"): Rule(
        ANYONE,
        lambda w, r: Call(
            "GET", f"/v1/artifacts/{w.artifact}/content", params={"reason": "access matrix"}
        ),
    ),
    ("GET", "/v1/artifacts/{artifact_id}/custody"): Rule(
        ANYONE, _get("/v1/artifacts/{w.artifact}/custody")
    ),
    # Verification: anyone who may read the artifact may have the vault re-check it
    # (a sealed access event), or ask whether it holds a file (collectors: their cases).
    ("GET", "/v1/artifacts/{artifact_id}/verification"): Rule(
        ANYONE, _get("/v1/artifacts/{w.artifact}/verification")
    ),
    ("POST", "/v1/verify"): Rule(
        ANYONE, lambda w, r: Call("POST", "/v1/verify", json={"sha256": w.other_sha256})
    ),
    # Only the current custodian (the uploading collector here) or an admin hands custody
    # on; legal may once it holds custody, auditors never take part.
    ("POST", "/v1/artifacts/{artifact_id}/transfers"): Rule(
        WRITERS,
        lambda w, r: Call(
            "POST",
            f"/v1/artifacts/{w.fresh_artifact(r)}/transfers",
            json={"to": "legal", "reason": "review"},
        ),
    ),
    ("POST", "/v1/artifacts/{artifact_id}/annotations"): Rule(
        frozenset({"collector", "legal", "admin"}),
        lambda w, r: Call(
            "POST", f"/v1/artifacts/{w.artifact}/annotations", json={"text": f"note by {r}"}
        ),
    ),
    # Resumable uploads: collectors (and admins), each on their own sessions only
    ("POST", "/v1/cases/{case_id}/uploads"): Rule(
        WRITERS,
        lambda w, r: Call(
            "POST",
            f"/v1/cases/{w.case}/uploads",
            json={"file_name": f"{r}.img", "size": 3, "sha256": hashlib.sha256(b"abc").hexdigest()},
        ),
    ),
    ("HEAD", "/v1/uploads/{upload_id}"): Rule(
        WRITERS, lambda w, r: Call("HEAD", f"/v1/uploads/{w.new_upload(r)}")
    ),
    ("GET", "/v1/uploads/{upload_id}"): Rule(
        WRITERS, lambda w, r: Call("GET", f"/v1/uploads/{w.new_upload(r)}")
    ),
    ("PATCH", "/v1/uploads/{upload_id}"): Rule(
        WRITERS,
        lambda w, r: Call(
            "PATCH",
            f"/v1/uploads/{w.new_upload(r)}",
            content=b"res",
            headers={"Upload-Offset": "0"},
        ),
    ),
    ("POST", "/v1/uploads/{upload_id}/complete"): Rule(
        WRITERS, lambda w, r: Call("POST", f"/v1/uploads/{w.new_upload(r, filled=True)}/complete")
    ),
    ("DELETE", "/v1/uploads/{upload_id}"): Rule(
        WRITERS, lambda w, r: Call("DELETE", f"/v1/uploads/{w.new_upload(r)}")
    ),
    # Incident context: everyone reads; auditors change nothing
    ("GET", "/v1/cases/{case_id}/incident"): Rule(ANYONE, _get("/v1/cases/{w.case}/incident")),
    ("PATCH", "/v1/cases/{case_id}/privacy"): Rule(
        frozenset({"collector", "legal", "admin"}),
        lambda w, r: Call("PATCH", f"/v1/cases/{w.case}/privacy", json={"personal_data": True}),
    ),
    ("GET", "/v1/cases/{case_id}/timeline"): Rule(ANYONE, _get("/v1/cases/{w.case}/timeline")),
    ("GET", "/v1/cases/{case_id}/timeline.csv"): Rule(
        ANYONE, _get("/v1/cases/{w.case}/timeline.csv")
    ),
    ("POST", "/v1/cases/{case_id}/notes"): Rule(
        frozenset({"collector", "legal", "admin"}),
        lambda w, r: Call("POST", f"/v1/cases/{w.case}/notes", json={"text": f"note by {r}"}),
    ),
    # A review is stored as evidence: only those who may add evidence record one.
    ("POST", "/v1/cases/{case_id}/reviews"): Rule(
        WRITERS,
        lambda w, r: Call("POST", f"/v1/cases/{w.case}/reviews", json={"summary": f"by {r}"}),
    ),
    ("GET", "/v1/cases/{case_id}/reviews"): Rule(ANYONE, _get("/v1/cases/{w.case}/reviews")),
    # The case's responders and admins (and an item's owner, here the collector)
    ("PATCH", "/v1/cases/{case_id}/reviews/{review_id}/items/{item_id}"): Rule(
        WRITERS,
        lambda w, r: Call(
            "PATCH",
            "/v1/cases/{}/reviews/{}/items/{}".format(w.case, *w.review()),
            json={"note": f"by {r}"},
        ),
    ),
    # Everyone has a list of the items they own (in the cases they may read)
    ("GET", "/v1/action-items"): Rule(ANYONE, _get("/v1/action-items")),
    ("GET", "/v1/metrics"): Rule(ANYONE, _get("/v1/metrics")),
    # Communication updates: everyone may read a draft; issuing stores evidence
    ("GET", "/v1/cases/{case_id}/communications/{kind}/draft"): Rule(
        ANYONE, _get("/v1/cases/{w.case}/communications/executive/draft")
    ),
    ("POST", "/v1/cases/{case_id}/communications"): Rule(
        WRITERS,
        lambda w, r: Call(
            "POST",
            f"/v1/cases/{w.case}/communications",
            json={"kind": "internal", "recipient": "response team"},
        ),
    ),
    ("GET", "/v1/metrics/leadership"): Rule(ANYONE, _get("/v1/metrics/leadership")),
    ("GET", "/v1/metrics/leadership.csv"): Rule(ANYONE, _get("/v1/metrics/leadership.csv")),
    ("GET", "/v1/metrics/leadership.pdf"): Rule(ANYONE, _get("/v1/metrics/leadership.pdf")),
    ("GET", "/v1/search"): Rule(ANYONE, _get("/v1/search?q=ransomware")),
    ("POST", "/v1/cases/{case_id}/assessment"): Rule(
        WRITERS,
        lambda w, r: Call(
            "POST", f"/v1/cases/{w.case}/assessment", json={"root_cause": "phished VPN"}
        ),
    ),
    # Custody reports and bundles: for those who check custody, not those who collect
    ("GET", "/v1/cases/{case_id}/report.json"): Rule(
        PROOF_READERS, _get("/v1/cases/{w.case}/report.json")
    ),
    ("GET", "/v1/cases/{case_id}/report.pdf"): Rule(
        PROOF_READERS, _get("/v1/cases/{w.case}/report.pdf")
    ),
    ("GET", "/v1/cases/{case_id}/provenance.jsonld"): Rule(
        PROOF_READERS, _get("/v1/cases/{w.case}/provenance.jsonld")
    ),
    ("GET", "/v1/cases/{case_id}/bundle"): Rule(
        PROOF_READERS,
        lambda w, r: Call("GET", f"/v1/cases/{w.case}/bundle", params={"content": "false"}),
    ),
    # Containment actions
    ("POST", "/v1/cases/{case_id}/actions"): Rule(
        WRITERS,
        lambda w, r: Call(
            "POST",
            f"/v1/cases/{w.case}/actions",
            json={"action": "isolate_host", "target": "fs01", "outcome": "succeeded"},
        ),
    ),
    ("GET", "/v1/cases/{case_id}/actions"): Rule(ANYONE, _get("/v1/cases/{w.case}/actions")),
    # Playbooks: everyone reads; responders classify and record steps (legal only the
    # communication steps, so a containment step is refused to it)
    ("GET", "/v1/playbooks"): Rule(ANYONE, _get("/v1/playbooks")),
    ("GET", "/v1/playbooks/{scenario}"): Rule(ANYONE, _get("/v1/playbooks/ransomware")),
    ("GET", "/v1/cases/{case_id}/playbook"): Rule(ANYONE, _get("/v1/cases/{w.case}/playbook")),
    ("POST", "/v1/cases/{case_id}/classification"): Rule(
        WRITERS,
        lambda w, r: Call(
            "POST", f"/v1/cases/{w.case}/classification", json={"scenario": "ransomware"}
        ),
    ),
    ("POST", "/v1/cases/{case_id}/playbook/steps/{step_id}"): Rule(
        WRITERS,
        lambda w, r: Call(
            "POST",
            f"/v1/cases/{w.playbook_case(r)}/playbook/steps/isolate-hosts",
            json={"outcome": "done"},
        ),
    ),
    # Assets of a case: responders record them, everyone who reads the case sees them
    ("POST", "/v1/cases/{case_id}/assets"): Rule(
        WRITERS,
        lambda w, r: Call(
            "POST",
            f"/v1/cases/{w.case}/assets",
            json={"kind": "host", "name": "fs01", "owner": "IT", "criticality": "high"},
        ),
    ),
    ("GET", "/v1/cases/{case_id}/assets"): Rule(ANYONE, _get("/v1/cases/{w.case}/assets")),
    ("GET", "/v1/cases/{case_id}/assets/{asset_id}"): Rule(
        ANYONE, lambda w, r: Call("GET", f"/v1/cases/{w.asset()}")
    ),
    ("POST", "/v1/cases/{case_id}/assets/{asset_id}/artifacts"): Rule(
        WRITERS,
        lambda w, r: Call(
            "POST", f"/v1/cases/{w.asset()}/artifacts", json={"artifact": w.artifact}
        ),
    ),
    # Categories of data affected: responders set them, readers of the case see them
    ("GET", "/v1/cases/{case_id}/data-categories"): Rule(
        ANYONE, _get("/v1/cases/{w.case}/data-categories")
    ),
    ("POST", "/v1/cases/{case_id}/data-categories"): Rule(
        WRITERS,
        lambda w, r: Call(
            "POST", f"/v1/cases/{w.case}/data-categories", json={"categories": ["credentials"]}
        ),
    ),
    # Ledger proofs: auditors, legal, admin
    ("GET", "/v1/ledger/checkpoint"): Rule(PROOF_READERS, _get("/v1/ledger/checkpoint")),
    ("GET", "/v1/ledger/checkpoint.txt"): Rule(PROOF_READERS, _get("/v1/ledger/checkpoint.txt")),
    ("GET", "/v1/ledger/checkpoints/{size}"): Rule(
        PROOF_READERS, lambda w, r: Call("GET", f"/v1/ledger/checkpoints/{_size(w)}")
    ),
    ("GET", "/v1/ledger/proofs/inclusion"): Rule(
        PROOF_READERS,
        lambda w, r: Call(
            "GET", "/v1/ledger/proofs/inclusion", params={"index": 0, "tree_size": _size(w)}
        ),
    ),
    ("GET", "/v1/ledger/proofs/consistency"): Rule(
        PROOF_READERS,
        lambda w, r: Call(
            "GET", "/v1/ledger/proofs/consistency", params={"first": 1, "second": _size(w)}
        ),
    ),
    ("GET", "/v1/ledger/entries"): Rule(PROOF_READERS, _get("/v1/ledger/entries")),
    ("GET", "/v1/ledger/receipts/{index}"): Rule(PROOF_READERS, _get("/v1/ledger/receipts/0")),
    # Principals
    ("POST", "/v1/principals"): Rule(
        ADMIN,
        lambda w, r: Call(
            "POST", "/v1/principals", json={"name": f"p-{uuid.uuid4().hex[:8]}", "role": "legal"}
        ),
    ),
    ("GET", "/v1/principals"): Rule(ADMIN, _get("/v1/principals")),
    # A legal or admin principal: one admin asks, another approves (four eyes).
    ("GET", "/v1/principals/requests"): Rule(ADMIN, _get("/v1/principals/requests")),
    ("POST", "/v1/principals/requests/{request_id}/approve"): Rule(
        ADMIN, lambda w, r: Call("POST", f"/v1/principals/requests/{w.request()}/approve")
    ),
    ("POST", "/v1/principals/requests/{request_id}/decline"): Rule(
        ADMIN,
        lambda w, r: Call(
            "POST", f"/v1/principals/requests/{w.request()}/decline", json={"reason": "no"}
        ),
    ),
    ("POST", "/v1/principals/{name}/role"): Rule(
        ADMIN,
        lambda w, r: Call(
            "POST", f"/v1/principals/{w.spare_principal()}/role", json={"role": "auditor"}
        ),
    ),
    ("POST", "/v1/principals/{name}/disable"): Rule(
        ADMIN,
        lambda w, r: Call(
            "POST", f"/v1/principals/{w.spare_principal()}/disable", json={"reason": "left"}
        ),
    ),
    ("GET", "/v1/principals/me"): Rule(ANYONE, _get("/v1/principals/me")),
    # -- web pages ----------------------------------------------------------------------
    # Public by design: the way in, and the stylesheet/script of the sign-in page.
    ("GET", "/"): _page(None, _get("/"), public_ok=frozenset({303})),
    ("GET", "/signin"): _page(None, _get("/signin")),
    ("POST", "/signin"): _page(
        None,
        lambda w, r: Call("POST", "/signin", data={"token": w.live.tokens["auditor"]}),
        public_ok=frozenset({303}),
    ),
    # Only forgets the cookie. A form without a session or a bearer token is refused as
    # possibly forged (403); nothing else is needed to sign out.
    ("POST", "/signout"): _page(
        None, lambda w, r: Call("POST", "/signout", data={}), public_ok=frozenset({303, 403})
    ),
    ("GET", "/static/{name}"): _page(None, _get("/static/locard.css")),
    ("GET", "/favicon.ico"): _page(None, _get("/favicon.ico")),
    ("GET", "/cases"): _page(ANYONE, _get("/cases")),
    ("GET", "/cases/{case_id}"): _page(ANYONE, _get("/cases/{w.case}")),
    ("GET", "/cases/new"): _page(WRITERS, _get("/cases/new")),
    ("POST", "/cases/new"): _page(
        WRITERS, _form("/cases/new", title="Opened from the page", severity="P4")
    ),
    ("GET", "/cases/{case_id}/upload"): _page(WRITERS, _get("/cases/{w.case}/upload")),
    ("GET", "/cases/{case_id}/timeline"): _page(ANYONE, _get("/cases/{w.case}/timeline")),
    ("POST", "/cases/{case_id}/status"): _page(
        WRITERS, _form("/cases/{w.case}/status", status="triaged")
    ),
    ("POST", "/cases/{case_id}/privacy"): _page(
        frozenset({"collector", "legal", "admin"}),
        _form("/cases/{w.case}/privacy", personal_data="on"),
    ),
    ("GET", "/cases/{case_id}/communications/{kind}"): _page(
        ANYONE, _get("/cases/{w.case}/communications/regulator")
    ),
    ("POST", "/cases/{case_id}/communications"): _page(
        WRITERS, _form("/cases/{w.case}/communications", kind="internal", recipient="team")
    ),
    ("POST", "/cases/{case_id}/assessment"): _page(
        WRITERS, _form("/cases/{w.case}/assessment", root_cause="phished VPN")
    ),
    ("POST", "/cases/{case_id}/notes"): _page(
        frozenset({"collector", "legal", "admin"}), _form("/cases/{w.case}/notes", text="seen")
    ),
    ("POST", "/cases/{case_id}/classification"): _page(
        WRITERS, _form("/cases/{w.case}/classification", scenario="ransomware")
    ),
    ("POST", "/cases/{case_id}/playbook/{step_id}"): _page(
        WRITERS,
        lambda w, r: Call(
            "POST", f"/cases/{w.playbook_case(r)}/playbook/isolate-hosts", data={"outcome": "done"}
        ),
    ),
    ("GET", "/action-items"): _page(ANYONE, _get("/action-items")),
    ("GET", "/cases/{case_id}/assets/{asset_id}"): _page(
        ANYONE, lambda w, r: Call("GET", f"/cases/{w.asset()}")
    ),
    ("POST", "/cases/{case_id}/assets"): _page(
        WRITERS,
        _form(
            "/cases/{w.case}/assets", kind="ip", name="192.0.2.1", owner="ISP", criticality="low"
        ),
    ),
    ("POST", "/cases/{case_id}/assets/{asset_id}/artifacts"): _page(
        WRITERS,
        lambda w, r: Call("POST", f"/cases/{w.asset()}/artifacts", data={"artifact": w.artifact}),
    ),
    ("POST", "/cases/{case_id}/data-categories"): _page(
        WRITERS, _form("/cases/{w.case}/data-categories", category="financial")
    ),
    # The case's responders and admins (and the item's owner, here the collector)
    ("POST", "/cases/{case_id}/reviews/{review_id}/items/{item_id}/close"): _page(
        WRITERS,
        lambda w, r: Call(
            "POST",
            "/cases/{}/reviews/{}/items/{}/close".format(w.case, *w.review()),
            data={"outcome": "done", "note": "MFA enforced, sign-in without it refused"},
        ),
    ),
    ("POST", "/artifacts/{artifact_id}/verify"): _page(
        ANYONE, _form("/artifacts/{w.artifact}/verify", reason="integrity check")
    ),
    ("GET", "/cases/{case_id}/hold"): _page(HOLDERS, _get("/cases/{w.case}/hold")),
    ("POST", "/cases/{case_id}/hold"): _page(
        HOLDERS,
        lambda w, r: Call(
            "POST",
            f"/cases/{w.fresh_case(r)}/hold",
            data={"action": "place", "reason": "litigation"},
        ),
    ),
    ("GET", "/artifacts/{artifact_id}"): _page(ANYONE, _get("/artifacts/{w.artifact}")),
    ("GET", "/ledger"): _page(PROOF_READERS, _get("/ledger")),
    ("GET", "/ledger/consistency"): _page(
        PROOF_READERS,
        lambda w, r: Call(
            "GET",
            "/ledger/consistency",
            params={"size": 1, "root": w.live.vault.ledger.checkpoint(1).root.hex()},
        ),
    ),
    ("GET", "/metrics"): _page(ANYONE, _get("/metrics")),
    ("GET", "/search"): _page(ANYONE, _get("/search?q=ransomware")),
    ("GET", "/legal"): _page(LEGAL, _get("/legal")),
}


def bad_credentials(w: World) -> dict[str, dict[str, str]]:
    valid = w.live.tokens["admin"]
    return {
        "no token": {},
        "unknown token": auth("lcd_" + "A" * 43),
        "token without prefix": auth("x" * 47),
        "overlong token": auth("lcd_" + "a" * 600),
        "basic scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "other scheme, valid token": {"Authorization": f"Token {valid}"},
        "no scheme, valid token": {"Authorization": valid},
        "scheme only": {"Authorization": "Bearer"},
        # (trailing blanks are stripped by HTTP itself: "Bearer   " arrives as "scheme only")
        "empty token body": auth("lcd_"),
        "two tokens": {"Authorization": f"Bearer {valid} {valid}"},
        "bad session cookie": {"Cookie": "locard_session=lcd_forged"},
    }


#: tried on every route; all of `bad_credentials` go to a few (test_malformed_credentials),
#: since they are all decided by the one dependency every route shares
PER_ROUTE = ("no token", "unknown token", "basic scheme", "bad session cookie")


def send(w: World, call: Call, headers: dict[str, str]) -> httpx.Response:
    w.http.cookies.clear()  # a sign-in must not carry over to the next request
    return w.http.request(
        call.method,
        call.url,
        params=call.params,
        json=call.json,
        content=call.content,
        data=call.data,
        headers={**call.headers, **headers},
    )


# -- tests ---------------------------------------------------------------------------


def test_matrix_covers_every_route() -> None:
    routes = app_routes()
    assert routes - MATRIX.keys() == set(), "routes without an access-matrix entry"
    assert MATRIX.keys() - routes == set(), "matrix entries for routes that no longer exist"
    # The published API description must not list anything the matrix has not seen.
    schema = create_app(Settings()).openapi()
    described = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    # OpenAPI writes `{path}` where the route says `{path:path}` (a converter)
    assert described <= {(m, re.sub(r":\w+}", "}", p)) for m, p in MATRIX}


def _route_id(key: tuple[str, str]) -> str:
    return f"{key[0]} {key[1]}"


def _assert_unauthenticated(rule: Rule, r: httpx.Response, what: str) -> None:
    if rule.page:
        assert r.status_code == 303, f"{what}: {r.status_code} {r.text[:300]}"
        assert r.headers["location"].startswith("/signin?next="), what
        return
    assert r.status_code == 401, f"{what}: {r.status_code} {r.text}"
    assert r.headers.get("www-authenticate") == "Bearer", what
    assert_refused(r, 401)


def _assert_forbidden(rule: Rule, r: httpx.Response, what: str) -> None:
    if rule.page:
        assert r.status_code == 403, f"{what}: {r.status_code} {r.text[:300]}"
        assert r.headers["content-type"].startswith("text/html"), what
        return
    assert_refused(r, 403)
    if r.request.method != "HEAD":
        assert r.json()["error"] == "forbidden", what


def _assert_allowed(rule: Rule, r: httpx.Response, what: str) -> None:
    if rule.page and r.status_code == 303:  # a form done: back to the page it came from
        assert not r.headers["location"].startswith("/signin"), what
        return
    assert 200 <= r.status_code < 300, f"{what}: {r.status_code} {r.text[:500]}"


@pytest.mark.parametrize("key", sorted(MATRIX), ids=_route_id)
def test_access(world: World, key: tuple[str, str]) -> None:
    rule = MATRIX[key]
    live = world.live
    if rule.allowed is None:
        for name, headers in {
            **bad_credentials(world),
            **{role: auth(live.tokens[role]) for role in ROLES},
        }.items():
            r = send(world, rule.build(world, None), headers)
            assert r.status_code in rule.public_ok, (
                f"public {_route_id(key)} as {name}: {r.status_code}"
            )
        return

    for name in PER_ROUTE:
        headers = bad_credentials(world)[name]
        call = rule.build(world, None)
        before = vault_state(live)
        r = send(world, call, headers)
        _assert_unauthenticated(rule, r, f"{_route_id(key)} with {name}")
        assert vault_state(live) == before, f"{name}: a refused request changed the vault"

    for role in ROLES:
        call = rule.build(world, role)
        what = f"{_route_id(key)} as {role}"
        if role in rule.allowed:
            _assert_allowed(rule, send(world, call, auth(live.tokens[role])), what)
        else:
            with untouched(live):
                r = send(world, call, auth(live.tokens[role]))
            _assert_forbidden(rule, r, what)


@pytest.mark.parametrize(
    "key",
    [
        ("GET", "/v1/cases/{case_id}"),
        ("POST", "/v1/cases/{case_id}/artifacts"),
        ("GET", "/v1/ledger/checkpoint"),
        ("GET", "/cases/{case_id}"),
    ],
    ids=_route_id,
)
def test_malformed_credentials(world: World, key: tuple[str, str]) -> None:
    rule = MATRIX[key]
    for name, headers in bad_credentials(world).items():
        with untouched(world.live):
            r = send(world, rule.build(world, None), headers)
        _assert_unauthenticated(rule, r, f"{_route_id(key)} with {name}")


#: the API's writes, for a signed-in browser session
COOKIE_WRITES = sorted(
    k
    for k, rule in MATRIX.items()
    if not rule.page and rule.allowed and k[0] not in ("GET", "HEAD", "OPTIONS")
)


def _web_session(world: World, role: str) -> tuple[str, str]:
    """Signs `role` in through the form; its session id and the CSRF token its pages show."""
    w = world.http
    w.cookies.clear()
    r = w.post("/signin", data={"token": world.live.tokens[role]})
    session_id = r.cookies["locard_session"]
    w.cookies.clear()
    page = w.get("/cases", headers={"Cookie": f"locard_session={session_id}"}).text
    marker = 'name="csrf" value="'
    start = page.index(marker) + len(marker)
    return session_id, page[start : start + 64]


@pytest.mark.parametrize("key", COOKIE_WRITES, ids=_route_id)
def test_api_writes_refuse_a_bare_session_cookie(world: World, key: tuple[str, str]) -> None:
    """The browser attaches the cookie to any same-site page's request (issue 12): every
    API write needs the CSRF token and this vault's Origin with it, or is refused before
    anything is read or written."""
    rule = MATRIX[key]
    assert rule.allowed is not None
    role = sorted(rule.allowed)[0]
    session_id, csrf = _web_session(world, role)
    jar = {"Cookie": f"locard_session={session_id}"}
    foreign = world.live.url.rsplit(":", 1)[0] + ":1"  # same host, another port
    for what, headers in {
        "cookie alone": jar,
        "cookie and own Origin": {**jar, "Origin": world.live.url},
        "cookie and CSRF token from another origin": {
            **jar,
            "X-CSRF-Token": csrf,
            "Origin": foreign,
        },
    }.items():
        call = rule.build(world, role)  # may make fresh state first
        with untouched(world.live):
            r = send(world, call, headers)
        assert r.status_code == 403, f"{_route_id(key)} as {role}, {what}: {r.text[:300]}"
        assert r.json()["error"] == "csrf_refused", what


def test_public_by_design(world: World) -> None:
    """These answer without credentials; anything else must not."""
    public = {k for k, rule in MATRIX.items() if rule.allowed is None}
    assert public == {
        (m, p)
        for p in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
        for m in ("GET", "HEAD")
    } | {
        ("GET", "/healthz"),
        ("GET", "/v1/keys"),
        # the ledger's checkpoint and hash tiles (C2SP tlog-tiles)
        ("GET", "/tlog/checkpoint"),
        ("GET", "/tlog/tile/{path:path}"),
        ("GET", "/v1/keys/crl"),
        ("GET", "/v1/keys/root.crl"),
        # the web sign-in itself
        ("GET", "/"),
        ("GET", "/signin"),
        ("POST", "/signin"),
        ("POST", "/signout"),
        ("GET", "/static/{name}"),
        ("GET", "/favicon.ico"),
    }
    with httpx.Client(base_url=world.live.url) as anon:
        keys = anon.get("/v1/keys").json()
        assert keys["log_key"] == world.live.vault.ledger.log_key
        assert anon.get("/healthz").json() == {"status": "ok"}
        assert "/v1/cases" in anon.get("/openapi.json").json()["paths"]


EVIDENCE_PATHS = (
    "/v1/cases/{case}",
    "/v1/cases/{case}/artifacts",
    "/v1/artifacts/{artifact}",
    "/v1/artifacts/{artifact}/content",
    "/v1/artifacts/{artifact}/custody",
)


def test_nobody_can_delete_or_overwrite_evidence(world: World) -> None:
    # (DELETE /v1/uploads/{id} abandons an unfinished upload session: not evidence)
    destructive = {
        k
        for k in app_routes()
        if k[0] in ("DELETE", "PUT")
        and k[1].startswith(("/v1/cases", "/v1/artifacts", "/v1/ledger"))
    }
    assert not destructive, f"routes that could delete or overwrite evidence: {destructive}"
    live = world.live
    with untouched(live):
        for template in EVIDENCE_PATHS:
            path = template.format(case=world.case, artifact=world.artifact)
            for who in (None, *ROLES):
                headers = world.as_(who) if who else {}
                for method in ("DELETE", "PUT"):
                    r = world.http.request(method, path, content=b"overwrite", headers=headers)
                    assert r.status_code == 405, f"{method} {path} as {who}: {r.status_code}"
                    assert "DELETE" not in r.headers.get("allow", "")
    r = world.http.head(f"/v1/artifacts/{world.artifact}/content", headers=world.as_("collector"))
    assert r.status_code == 200


def test_collector_isolation(world: World) -> None:
    """Collector B sees nothing of collector A's case, and cannot add to it or join it."""
    live = world.live
    b = live.client("collector-b")
    case, art = world.case, world.artifact
    with untouched(live):
        listed = {c["id"] for c in b.get("/v1/cases").json()}
        assert case not in listed and world.other_case in listed
        refused = [
            b.get(f"/v1/cases/{case}"),
            b.patch(f"/v1/cases/{case}", json={"title": "mine now"}),
            b.post(f"/v1/cases/{case}/members", json={"principal": "collector-b"}),
            b.get(f"/v1/cases/{case}/artifacts"),
            b.post(f"/v1/cases/{case}/artifacts", params={"file_name": "x"}, content=b"planted"),
            b.post(f"/v1/cases/{case}/collections", content=Velociraptor().build()),
            b.get(f"/v1/cases/{case}/actions"),
            b.post(
                f"/v1/cases/{case}/actions",
                json={"action": "other", "target": "x", "outcome": "failed"},
            ),
            b.get(f"/v1/artifacts/{art}"),
            b.head(f"/v1/artifacts/{art}/content"),
            b.get(f"/v1/artifacts/{art}/content", params={"reason": "curious"}),
            b.get(
                f"/v1/artifacts/{art}/content",
                params={"reason": "x"},
                headers={"Range": "bytes=0-1"},
            ),
            b.get(f"/v1/artifacts/{art}/custody"),
            b.post(f"/v1/artifacts/{art}/transfers", json={"to": "collector-b", "reason": "x"}),
            b.post(f"/v1/artifacts/{art}/annotations", json={"text": "was here"}),
            b.post(
                f"/v1/cases/{case}/uploads",
                json={"file_name": "x", "size": 1, "sha256": world.other_sha256},
            ),
            b.get(f"/v1/cases/{case}/incident"),
            b.patch(f"/v1/cases/{case}/privacy", json={"personal_data": True}),
            b.get(f"/v1/cases/{case}/timeline"),
            b.get(f"/v1/cases/{case}/timeline.csv"),
            b.post(f"/v1/cases/{case}/notes", json={"text": "was here"}),
            b.post(f"/v1/cases/{case}/reviews", json={"summary": "mine"}),
            b.get(f"/v1/cases/{case}/reviews"),
        ]
        for r in refused:
            # 404, not 403: whether a case exists is itself not B's to know.
            assert_refused(r, 404)
        # ...and the same answer as for a case that does not exist at all
        missing = b.get("/v1/cases/IR-1999-0001")
        assert missing.status_code == 404
        # The web pages hold the same line.
        pages = [
            b.get(f"/cases/{case}"),
            b.get(f"/cases/{case}/timeline"),
            b.get(f"/artifacts/{art}"),
            b.post(f"/cases/{case}/notes", data={"text": "was here"}),
            b.post(f"/cases/{case}/status", data={"status": "closed"}),
            b.post(f"/cases/{case}/privacy", data={"personal_data": "on"}),
        ]
        for r in pages:
            assert r.status_code == 404, f"{r.request.method} {r.request.url}: {r.status_code}"
        assert case not in b.get("/cases").text
    # The other way round, A sees nothing of B's.
    with untouched(live), live.client("collector") as a:
        assert world.other_case not in {c["id"] for c in a.get("/v1/cases").json()}
        assert_refused(a.get(f"/v1/cases/{world.other_case}/artifacts"), 404)
        assert_refused(a.get(f"/v1/artifacts/{world.other_artifact}"), 404)
        assert_refused(
            a.get(f"/v1/artifacts/{world.other_artifact}/content", params={"reason": "x"}), 404
        )
        assert_refused(a.get(f"/v1/artifacts/{world.other_artifact}/verification"), 404)
        found = a.post("/v1/verify", json={"sha256": world.other_sha256}).json()
        assert found["held"] is False and found["matches"] == []
    b.close()


def test_legal_hold_only_by_legal(world: World) -> None:
    live = world.live
    case = world.new_case()
    art = world.new_artifact(case)
    key = f"objects/sha256/{art['sha256']}"
    hold = f"/v1/cases/{case}/hold"
    for role in ("collector", "auditor", "admin"):
        with untouched(live), live.client(role) as c:
            assert_refused(c.post(hold, json={"on": True, "reason": "mine"}), 403)
    assert not live.vault.store.protection(key).legal_hold
    with live.client("legal") as legal:
        r = legal.post(hold, json={"on": True, "reason": "litigation: Doe v. Corp"})
        assert r.status_code == 200, r.text
        assert r.json()["case"]["legal_hold"] is True
        assert live.vault.store.protection(key).legal_hold
        for role in ("collector", "auditor", "admin"):
            with untouched(live), live.client(role) as c:
                assert_refused(c.post(hold, json={"on": False, "reason": "done"}), 403)
        assert live.vault.store.protection(key).legal_hold
        r = legal.post(hold, json={"on": False, "reason": "settled"})
        assert r.status_code == 200, r.text
        assert r.json()["case"]["legal_hold"] is False
        assert not live.vault.store.protection(key).legal_hold
        events = [e["event"]["type"] for e in legal.get("/v1/ledger/entries").json()["entries"]]
    assert events.count("hold.set") >= 1 and events.count("hold.released") >= 1
