"""The README stays true: its two commands, and every setting in its table."""

from __future__ import annotations

from pathlib import Path

from streams.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_shows_the_two_commands() -> None:
    assert "make demo" in README and "make test" in README


def test_every_setting_is_documented() -> None:
    missing = [n for n in Settings.model_fields if f"`FLASHSALE_{n.upper()}`" not in README]
    assert missing == []
