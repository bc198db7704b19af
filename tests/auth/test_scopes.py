"""Scope parsing."""

from __future__ import annotations

import pytest

from safehold.auth import SCOPES, TRUSTED_SCOPES, parse_scopes
from safehold.errors import InvalidInputError


def test_parse_scopes_forms() -> None:
    assert parse_scopes("admin") == {"admin"}
    assert parse_scopes("Matcher, client") == {"matcher", "client"}
    assert parse_scopes(["curator", " curator "]) == {"curator"}
    assert set(SCOPES) == {"admin", "curator", "matcher", "client", "peer"}
    assert {"admin", "matcher"} == TRUSTED_SCOPES


@pytest.mark.parametrize("bad", ["", " , ", "root", "admin superuser"])
def test_parse_scopes_refuses(bad: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_scopes(bad)
