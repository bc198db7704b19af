"""Fixtures for the live matcher: matchers on the parametrised database (SQLite and
PostgreSQL), a second bank service on its own engine (another worker process), and the
reference hashes of the benign shared media."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from safehold.banks.service import BankService
from safehold.matching import LiveMatcher
from safehold.settings import Settings
from safehold.storage.engine import open_database

MakeMatcher = Callable[..., LiveMatcher]


@pytest.fixture
def make_matcher(bank_service: BankService, db_settings: Settings) -> Iterator[MakeMatcher]:
    """``make_matcher(load=True, service=None, index_dir=None, **settings)``: a
    :class:`LiveMatcher` on the test database (stopped after the test)."""
    made: list[LiveMatcher] = []

    def make(
        *,
        load: bool = True,
        service: BankService | None = None,
        index_dir: Path | None = None,
        **settings: Any,
    ) -> LiveMatcher:
        options = db_settings.model_copy(update=settings) if settings else db_settings
        matcher = LiveMatcher(service or bank_service, options, index_dir=index_dir)
        if load:
            matcher.load()
        made.append(matcher)
        return matcher

    yield make
    for matcher in made:
        matcher.stop()


@pytest.fixture
def other_service(db_settings: Settings) -> Iterator[BankService]:
    """A bank service on its own engine, as a second service worker process holds."""
    engine = open_database(db_settings)
    yield BankService(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def images(shared_data: Path) -> Path:
    """``reference/images`` of the shared benign media."""
    return shared_data / "reference" / "images"


@pytest.fixture(scope="session")
def videos(shared_data: Path) -> Path:
    """``reference/videos`` of the shared benign media."""
    return shared_data / "reference" / "videos"


@pytest.fixture(scope="session")
def expected_hashes(images: Path) -> dict[str, dict[str, str]]:
    """``images/expected-hashes.csv`` by file name (reference PDQ and quality, MD5, SHA-256)."""
    with (images / "expected-hashes.csv").open() as f:
        return {Path(row["path"]).name: row for row in csv.DictReader(f)}
