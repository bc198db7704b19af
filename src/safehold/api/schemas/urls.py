"""Shapes of ``POST /v1/urls/check``: a batch of URLs checked against the banks' URL lists.

Trusted callers (``admin``, ``matcher`` keys) get :class:`UrlCheckResult` per URL with the
matched entries (bank, entry id, kind of entry, list version, category); ``client`` keys get
:class:`ClientUrlCheckResult`, exactly ``{"match", "action"}``. A URL that does not parse gets
``{"error": {...}}`` in its place. Models forbid extra fields, so nothing more can slip into a
client's answer.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from safehold.api.schemas.matching import MAX_BATCH, Action, Banks, BatchError, ContentRef
from safehold.matching.url_check import UrlMatch
from safehold.signals.url_canonical import MAX_URL_BYTES
from safehold.signals.url_expressions import KINDS

_STRICT = ConfigDict(extra="forbid")

#: One URL to check (its length in UTF-8 bytes is checked again when canonicalised).
UrlText = Annotated[str, Field(min_length=1, max_length=MAX_URL_BYTES)]


class UrlCheckRequest(BaseModel):
    """Up to 100 URLs (scheme optional), each checked on its own."""

    model_config = _STRICT

    urls: list[UrlText] = Field(min_length=1, max_length=MAX_BATCH)
    banks: list[str] = Banks
    content_ref: str = ContentRef


class UrlMatchPublic(BaseModel):
    """One matched URL list entry (trusted callers only); ``kind`` is one of ``host``,
    ``path_prefix``, ``exact_path``, ``exact_url``."""

    model_config = _STRICT

    bank: str
    entry_id: int
    kind: str = Field(json_schema_extra={"enum": list(KINDS)})
    list_version: str | None
    category: str | None

    @classmethod
    def of(cls, found: UrlMatch) -> UrlMatchPublic:
        """From the domain match."""
        return cls(
            bank=found.match.bank,
            entry_id=found.match.entry_id,
            kind=found.kind,
            list_version=found.list_version,
            category=found.match.category,
        )


class UrlCheckResult(BaseModel):
    """One checked URL for trusted callers: its canonical form, the decision, the matches."""

    model_config = _STRICT

    canonical: str
    match: bool
    action: Action
    matches: list[UrlMatchPublic]


class ClientUrlCheckResult(BaseModel):
    """One checked URL for ``client`` keys: did it match, and what to do."""

    model_config = _STRICT

    match: bool
    action: Action


class UrlCheckBatchResult(BaseModel):
    """One result per URL, in order (trusted callers); ``change_seq`` is the bank change the
    answering worker's bank rules reflect."""

    model_config = _STRICT

    results: list[UrlCheckResult | BatchError]
    change_seq: int


class ClientUrlCheckBatchResult(BaseModel):
    """One decision per URL, in order (``client`` keys)."""

    model_config = _STRICT

    results: list[ClientUrlCheckResult | BatchError]
