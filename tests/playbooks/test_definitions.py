"""Playbook files: the shipped three load, and a file that is not a playbook is refused
with its name (at the first playbook request, not when a case is being classified)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.playbooks.definitions import SHIPPED, PlaybookFileInvalid, load_dir

GOOD = """
scenario = "insider"
title = "Insider"
version = 2
[[steps]]
id = "revoke"
title = "Revoke access"
phase = "containment"
action = "revoke_credentials"
"""


def test_shipped_playbooks_cover_the_three_scenarios() -> None:
    books = load_dir(None)
    assert set(books) == {"ransomware", "bec", "data-loss"}
    ransomware = books["ransomware"]
    isolate = ransomware.step("isolate-hosts")
    assert isolate is not None and isolate.action == "isolate_host"
    assert {s.phase for s in ransomware.steps} >= {"containment", "recovery"}
    assert all(len(b.sha256) == 64 for b in books.values())
    assert load_dir(SHIPPED) == books


def test_an_organisation_directory_replaces_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "insider.toml").write_text(GOOD)
    books = load_dir(tmp_path)
    assert list(books) == ["insider"] and books["insider"].version == 2


@pytest.mark.parametrize(
    ("name", "text", "why"),
    [
        ("insider.toml", GOOD.replace('"revoke_credentials"', '"wipe_disk"'), "action"),
        ("insider.toml", GOOD + GOOD[GOOD.index("[[steps]]") :], "unique"),
        ("insider.toml", GOOD.replace("version = 2", "version = 0"), "version"),
        ("insider.toml", GOOD + "\nowner = 'x'\n", "owner"),
        ("insider.toml", "scenario = [", "insider.toml"),
        ("other.toml", GOOD, "declares scenario"),
        ("Insider.toml", GOOD, "named <scenario>.toml"),
        ("insider.toml", GOOD.replace("Revoke access", "Revoke\u202eaccess"), "bidirectional"),
    ],
)
def test_bad_files_are_refused_by_name(tmp_path: Path, name: str, text: str, why: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(PlaybookFileInvalid, match=why):
        load_dir(tmp_path)


def test_an_empty_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlaybookFileInvalid, match="no <scenario>.toml"):
        load_dir(tmp_path)
