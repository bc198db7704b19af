"""The access log never carries query strings (hashes, URLs)."""

from __future__ import annotations

import logging
import logging.config

import pytest

from safehold.api.access_log import RedactQueryFilter, log_config, redact_query


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/m/raw_lookup?signal_type=pdq&signal=" + "f" * 64, "/m/raw_lookup?<redacted>"),
        ("/m/lookup?url=http://example.com/a?token=secret", "/m/lookup?<redacted>"),
        ("/v1/match", "/v1/match"),
    ],
)
def test_query_strings_are_redacted(path: str, logged: str) -> None:
    assert redact_query(path) == logged


def test_uvicorn_access_records_lose_their_query(caplog: pytest.LogCaptureFixture) -> None:
    logging.config.dictConfig(log_config())  # the configuration `safehold serve` passes
    access = logging.getLogger("uvicorn.access")
    assert any(isinstance(f, RedactQueryFilter) for h in access.handlers for f in h.filters), (
        "the access handler carries the filter"
    )
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/m/raw_lookup?signal=" + "ab" * 32, "1.1", 200),
        None,
    )
    RedactQueryFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /m/raw_lookup?<redacted> HTTP/1.1" 200'
