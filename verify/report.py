"""What a verification found: a checklist of named checks, warnings and the verdict.

A `Report` is filled by the verifier (receipt, bundle) and by the vault's own audit; the CLI and
the API render it. It never raises for anything the evidence holds: every failure is a `Check`
carrying its typed `VerificationError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from verify.errors import InternalError, VerificationError

T = TypeVar("T")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    error: VerificationError | None = None

    @property
    def check(self) -> str | None:
        """The stable identifier of the failure (`VerificationError.check`), None if it passed."""
        return self.error.check if self.error is not None else None


#: The verdicts a report can reach (`Report.verdict`).
VERIFIED = "verified"
FAILED = "failed"
UNPINNED = "unpinned"
#: What a verifier must pin for a pass to mean anything (`Report.unpinned` names them).
PIN_LOG_KEY = "log key"
PIN_TSA_ROOT = "TSA root"


@dataclass
class Report:
    subject: str
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: trust anchors the verifier was not given, so the evidence's own were used
    #: (PIN_LOG_KEY, PIN_TSA_ROOT): checks may pass, but the evidence is then NOT verified
    unpinned: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every check passed (see `verified` for whether that proves anything)."""
        # A report with no checks proves nothing, so it must never read as a pass.
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def verified(self) -> bool:
        """Every check passed against pinned trust anchors."""
        return self.ok and not self.unpinned

    @property
    def verdict(self) -> str:
        if not self.ok:
            return FAILED
        return UNPINNED if self.unpinned else VERIFIED

    @property
    def first_failure(self) -> Check | None:
        return next((c for c in self.checks if not c.ok), None)

    def fail(self, name: str, error: VerificationError) -> None:
        self.checks.append(Check(name, False, str(error), error))

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def run(self, name: str, fn: Callable[[], str]) -> bool:
        """Record one check: its detail on success, a failed check on any exception."""
        ok, _ = self._attempt(name, lambda: (None, fn()))
        return ok

    def step(self, name: str, fn: Callable[[], tuple[T, str]]) -> T | None:
        """Like `run`, for a check whose (non-None) result later checks build on.

        Returns None when the check failed.
        """
        ok, value = self._attempt(name, fn)
        return value if ok else None

    def _attempt(self, name: str, fn: Callable[[], tuple[T, str]]) -> tuple[bool, T | None]:
        try:
            value, detail = fn()
        except VerificationError as exc:
            self.fail(name, exc)
            return False, None
        except Exception as exc:
            # Evidence is hostile input: an unforeseen exception is still a failed check,
            # never a pass and never a crash of the caller (the CLI must not print a traceback).
            error = InternalError(f"unexpected {type(exc).__name__}: {exc}")
            error.__cause__ = exc
            self.fail(name, error)
            return False, None
        self.checks.append(Check(name, True, detail))
        return True, value

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "ok": self.ok,
            "verdict": self.verdict,
            "unpinned": self.unpinned,
            "checks": [
                {
                    "name": c.name,
                    "ok": c.ok,
                    "detail": c.detail,
                    "error": type(c.error).__name__ if c.error else None,
                    "check": c.check,
                }
                for c in self.checks
            ],
            "warnings": self.warnings,
        }
