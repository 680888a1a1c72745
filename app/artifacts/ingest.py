"""One ingest, whatever door the bytes come in by (raw or multipart upload, a resumable
upload's completion, a lessons-learned record): plan → stream → commit → seal.

Planning refuses before the first byte is read; the store hashes while streaming and
makes the object visible only on commit; the seal records the ingest event, whose
projection is the artifact row. Nothing is evidence until the seal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.artifacts.metadata import ArtifactMeta
from app.artifacts.models import Artifact
from app.artifacts.service import IngestPlan, plan_ingest, record_ingest
from app.auth.models import Principal
from app.vault import Vault
from custody.faults import crash_point
from custody.ledger import Receipt
from storage.base import StoredObject, Upload


@dataclass
class Ingest:
    vault: Vault
    who: Principal
    plan: IngestPlan
    upload: Upload
    stored: StoredObject | None = field(default=None, init=False)

    @classmethod
    def begin(
        cls,
        vault: Vault,
        who: Principal,
        case_id: str,
        meta: ArtifactMeta,
        signature: str | None,
        *,
        max_size: int,
        expected_sha256: str | None = None,
    ) -> Ingest:
        plan = plan_ingest(vault, who, case_id, meta, signature)
        upload = vault.store.begin_upload(
            expected_sha256=expected_sha256 or meta.sha256,
            max_size=max_size,
            retention=plan.retention,
        )
        return cls(vault, who, plan, upload)

    def commit(self) -> StoredObject:
        self.stored = self.upload.commit()
        return self.stored

    def abort(self) -> None:
        """Drop the upload unless committed (a no-op after commit)."""
        self.upload.abort()

    def seal(self, artifact_id: str | None = None) -> tuple[Artifact, Receipt]:
        if self.stored is None:
            raise RuntimeError("seal() before commit()")
        crash_point("ingest.after_object")
        return record_ingest(self.vault, self.who, self.plan, self.stored, artifact_id)
