"""The README documents every setting and every route (a test fails when one is added silently)."""

from __future__ import annotations

import re
from pathlib import Path

from app.main import create_app
from app.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    missing = [
        f"BACKPROP_LAB_{name.upper()}"
        for name in Settings.model_fields
        if f"`BACKPROP_LAB_{name.upper()}`" not in README
    ]
    assert not missing, f"undocumented settings: {missing}"


def test_every_route_is_in_the_readme() -> None:
    paths = create_app().openapi()["paths"]
    missing = [
        f"{method.upper()} {path}"
        for path, ops in paths.items()
        for method in ops
        if f"`{method.upper()} {re.sub(r'{[a-z_]+}', '{id}', path)}`" not in README
    ]
    assert not missing, f"routes missing from the README's API table: {missing}"


def test_readme_opens_with_the_two_commands() -> None:
    head = README[:1500]
    assert "make run" in head and "make test" in head
