"""An event's `at` is bounded by the token on its checkpoint; `occurred_at` by `at`.

The forged evidence here is made by a real ledger whose clock was moved: every signature,
proof and token is genuine, only the event's time is a lie, which is exactly the forgery that
used to verify.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from custody import migrations
from custody.db import make_engine
from custody.ledger import EventDraft, Ledger
from custody.signing import NoteSigner
from custody.timestamps import HttpTSA
from custody.tsa_builtin import BuiltinTSA
from storage.local import LocalWormStore
from tests.support.ledger_fixtures import ORIGIN
from tests.support.live_server import free_port
from verify.errors import EventAfterTimestamp, OccurredAtError
from verify.policy import VerificationPolicy
from verify.report import Report
from verify.times import DEFAULT_ACCURACY, CheckpointBounds, latest_sealing_time
from verify.timestamp import TimestampInfo
from verify.verifier import Verifier

TWO_YEARS = timedelta(days=730)


def _pinned(ledger: Ledger, tsa: BuiltinTSA, **kw: Any) -> Verifier:
    return Verifier(
        VerificationPolicy(
            trusted_log_keys=(ledger.log_key,), trusted_tsa_roots=tuple(tsa.trust_roots()), **kw
        )
    )


def _note(body: dict[str, Any] | None = None) -> EventDraft:
    return EventDraft("annotation", "alice", "collector", body or {"note": "n"}, "IR-1", "art-1")


def _failure(report: Report) -> Any:
    failed = report.first_failure
    assert failed is not None, report.to_json()
    return failed


def test_genuine_receipt_passes_the_event_time_check(
    ledger: Ledger, builtin_tsa: BuiltinTSA
) -> None:
    receipt = ledger.seal([_note()])[0].to_json()
    report = _pinned(ledger, builtin_tsa).verify_receipt(receipt)
    assert report.ok, report.to_json()
    time = next(c for c in report.checks if c.name == "event time")
    assert "≤ token" in time.detail


def test_event_two_years_after_its_token_fails(ledger: Ledger, builtin_tsa: BuiltinTSA) -> None:
    """The reproduction: a forged event dated two years after its token's genTime."""
    ledger.clock = lambda: datetime.now(UTC) + TWO_YEARS
    receipts = ledger.seal([_note(), _note()])
    receipt = receipts[1].to_json()
    report = _pinned(ledger, builtin_tsa).verify_receipt(receipt)
    failed = _failure(report)
    assert isinstance(failed.error, EventAfterTimestamp), report.to_json()
    assert failed.name == "event time" and failed.check == "event-after-timestamp"
    index = receipts[1].event.index
    assert failed.error.subject == f"event {index}"
    assert "729 days" in failed.detail or "730 days" in failed.detail
    # Everything else about the forgery is genuine: only the time check catches it.
    assert [c.name for c in report.checks if not c.ok] == ["event time"]


def test_event_within_the_tokens_accuracy_passes(ledger: Ledger, builtin_tsa: BuiltinTSA) -> None:
    """The built-in TSA truncates genTime to the second and states 1 s accuracy."""
    ledger.clock = lambda: datetime.now(UTC).replace(microsecond=999_999)
    report = _pinned(ledger, builtin_tsa).verify_receipt(ledger.seal([_note()])[0].to_json())
    assert report.ok, report.to_json()


@pytest.mark.parametrize(
    ("occurred", "ok"),
    [
        ("2026-01-02T03:04:05+00:00", True),
        ("2026-01-02T04:04:05.123456+01:00", True),
        ("2026-01-02T03:04:05Z", True),
        (None, True),  # the actor told no time: the sealed time stands (v2 bodies)
        ("2030-01-02T03:04:05+00:00", False),  # after the event was sealed
        ("2026-01-02T03:04:05", False),  # no time zone
        ("yesterday", False),
        (1767323045, False),
    ],
)
def test_occurred_at_parses_and_is_not_after_at(
    ledger: Ledger, builtin_tsa: BuiltinTSA, occurred: Any, ok: bool
) -> None:
    ledger.clock = lambda: datetime(2026, 6, 1, tzinfo=UTC)
    receipt = ledger.seal([_note({"note": "contained", "occurred_at": occurred})])[0].to_json()
    # The ledger's clock is fixed in the past here, so the token bounds nothing it would
    # not anyway; what is under test is occurred_at against at.
    report = _pinned(ledger, builtin_tsa).verify_receipt(receipt)
    if ok:
        assert report.ok, report.to_json()
        return
    failed = _failure(report)
    assert isinstance(failed.error, OccurredAtError), report.to_json()
    assert failed.check == "occurred-at"


@pytest.fixture
def offline_ledger(db_url: str, tmp_path: Path, signer: NoteSigner) -> Iterator[Ledger]:
    """A ledger whose only TSA does not answer: every token stays pending."""
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    tsa = HttpTSA("down", f"http://127.0.0.1:{free_port()}/", [b"unused"], timeout=2)
    yield Ledger(engine, ORIGIN, signer, [tsa], LocalWormStore(tmp_path / "store"))
    engine.dispose()


def test_pending_token_leaves_the_time_unconfirmed(
    offline_ledger: Ledger, builtin_tsa: BuiltinTSA
) -> None:
    receipt = offline_ledger.seal([_note()])[0].to_json()
    assert receipt["timestamps"] == [] and receipt["timestamps_pending"] == 1
    strict = _pinned(offline_ledger, builtin_tsa).verify_receipt(receipt)
    assert not strict.ok  # a token is required by default
    assert _failure(strict).name == "timestamp" and "pending" in _failure(strict).detail
    time = next(c for c in strict.checks if c.name == "event time")
    assert time.ok and "UNCONFIRMED" in time.detail
    assert any("unconfirmed" in w and "pending" in w for w in strict.warnings)
    lenient = _pinned(offline_ledger, builtin_tsa, require_timestamp=False)
    report = lenient.verify_receipt(receipt)
    assert report.ok, report.to_json()
    time = next(c for c in report.checks if c.name == "event time")
    assert "UNCONFIRMED" in time.detail
    assert any("unconfirmed" in w and "pending" in w for w in report.warnings)


# -- the bounds themselves (pure functions) ----------------------------------------------------


def _info(gen: datetime, accuracy: timedelta | None = None) -> TimestampInfo:
    return TimestampInfo(
        gen_time=gen,
        policy="1.2.3",
        serial=1,
        nonce=None,
        tsa_name="CN=t",
        hash_algorithm="sha256",
        imprint=b"\0" * 32,
        signer_cert_der=b"",
        accuracy=accuracy,
    )


def test_stated_accuracy_is_allowed_and_one_second_without() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    assert latest_sealing_time(_info(t)) == t + DEFAULT_ACCURACY
    assert latest_sealing_time(_info(t, timedelta(milliseconds=20))) == t + timedelta(
        milliseconds=20
    )


def test_a_leaf_is_bounded_by_the_earliest_covering_token() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    bounds = CheckpointBounds(
        {3: _info(t), 5: None, 9: _info(t - timedelta(hours=1)), 12: _info(t + timedelta(1))}
    )
    assert bounds.for_leaf(0) == _info(t - timedelta(hours=1))  # covered by 3, 9 and 12
    assert bounds.for_leaf(4) == _info(t - timedelta(hours=1))  # 5 is pending
    assert bounds.for_leaf(9) == _info(t + timedelta(1))
    assert bounds.for_leaf(12) is None
    assert CheckpointBounds({5: None}).for_leaf(1) is None
