"""Shapes of hashing and matching (``/v1/hash``, ``/v1/match``, ``/v1/match/batch``,
``/v1/hash-and-match``) and of ``/v1/index/status``.

Every match answer comes in two shapes, documented side by side in OpenAPI: trusted callers
(``admin``, ``matcher`` keys) get :class:`MatchResult` with the matched entries (bank, entry
id, distance, category); ``client`` keys get :class:`ClientMatchResult`, exactly ``{"match",
"action"}``: no bank name, entry id, distance, category or hash. Models forbid extra fields,
so nothing more can slip into a client's answer.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from safehold.api.schemas.common import ErrorDetail
from safehold.matching import HashedContent, IndexStatus
from safehold.scanning.records import MatchInfo
from safehold.storage.tables import NAME_LENGTH, SIGNAL_TYPE_LENGTH, SOURCE_LENGTH

#: What a caller is told to do: nothing matched, review the content, or block it.
Action = Literal["none", "review", "block"]
#: Items per ``/v1/match/batch`` request.
MAX_BATCH = 100
#: Longest hash string accepted (a vPDQ signal of a 4-hour video at 1 frame per second is
#: about 1.2 million characters).
MAX_VALUE_CHARS = 2_000_000
#: Bank names one request may restrict matching to.
MAX_BANKS = 100

_STRICT = ConfigDict(extra="forbid")

ContentRef: Any = Field(
    default="",
    max_length=SOURCE_LENGTH,
    description="your own identifier of the content, kept with each match event",
)
Banks: Any = Field(
    default_factory=list,
    max_length=MAX_BANKS,
    description="match only these banks (names, ignoring case); trusted keys only",
)


class SignalPublic(BaseModel):
    """One signal of the submitted content (``quality``: 0-100 for perceptual types)."""

    model_config = _STRICT

    value: str
    quality: int | None


class ContentOptions(BaseModel):
    """How to treat submitted content (the form fields of an upload)."""

    model_config = _STRICT

    content_ref: str = ContentRef
    banks: list[str] = Banks
    signal_types: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="signal types to compute (default: every type that hashes the content)",
    )


class ContentUrl(ContentOptions):
    """Content to fetch by URL (http or https, public addresses only) instead of uploading it."""

    url: str = Field(min_length=1, max_length=4096)


class HashResult(BaseModel):
    """The signals of the submitted content; ``error`` names a signal type that failed (or
    damaged content hashed only in part) while others succeeded."""

    model_config = _STRICT

    content_type: str
    size: int
    signals: dict[str, SignalPublic]
    error: ErrorDetail | None = None

    @classmethod
    def of(cls, hashed: HashedContent) -> HashResult:
        """From the domain result."""
        return cls(**hashed_fields(hashed))


class MatchRequest(BaseModel):
    """One hash to match: ``{"signal_type": "pdq", "value": "<64 hex digits>"}``."""

    model_config = _STRICT

    signal_type: str = Field(min_length=1, max_length=SIGNAL_TYPE_LENGTH)
    value: str = Field(min_length=1, max_length=MAX_VALUE_CHARS)
    quality: int | None = Field(
        default=None, ge=0, le=100, description="PDQ quality if known; below 50 matches nothing"
    )
    banks: list[str] = Banks
    content_ref: str = ContentRef


class MatchBatch(BaseModel):
    """Up to 100 hashes; each is answered on its own (a bad one gets an error row)."""

    model_config = _STRICT

    items: list[MatchRequest] = Field(min_length=1, max_length=MAX_BATCH)


class MatchPublic(BaseModel):
    """One matched bank entry (trusted callers only)."""

    model_config = _STRICT

    bank: str = Field(max_length=NAME_LENGTH)
    entry_id: int
    signal_type: str
    distance: int
    category: str | None
    variant: str | None

    @classmethod
    def of(cls, match: MatchInfo) -> MatchPublic:
        """From the domain match."""
        return cls(
            bank=match.bank,
            entry_id=match.entry_id,
            signal_type=match.signal_type,
            distance=match.distance,
            category=match.category,
            variant=match.variant,
        )


class ClientMatchResult(BaseModel):
    """The decision a ``client`` key gets: did it match, and what to do."""

    model_config = _STRICT

    match: bool
    action: Action


class MatchResult(BaseModel):
    """The decision with its matches, for ``admin`` and ``matcher`` keys; ``change_seq`` is the
    bank change sequence the answering index reflects."""

    model_config = _STRICT

    match: bool
    action: Action
    matches: list[MatchPublic]
    change_seq: int


class BatchError(BaseModel):
    """A batch item that could not be matched (the others are answered)."""

    model_config = _STRICT

    error: ErrorDetail


class MatchBatchResult(BaseModel):
    """One result per item, in order (trusted callers)."""

    model_config = _STRICT

    results: list[MatchResult | BatchError]


class ClientMatchBatchResult(BaseModel):
    """One decision per item, in order (``client`` keys)."""

    model_config = _STRICT

    results: list[ClientMatchResult | BatchError]


class ClientHashMatchResult(BaseModel):
    """The submitted content's own signals and the decision (``client`` keys)."""

    model_config = _STRICT

    match: bool
    action: Action
    content_type: str
    size: int
    signals: dict[str, SignalPublic]
    error: ErrorDetail | None = None


class HashMatchResult(BaseModel):
    """The submitted content's signals, the decision and the matches (trusted callers)."""

    model_config = _STRICT

    match: bool
    action: Action
    matches: list[MatchPublic]
    change_seq: int
    content_type: str
    size: int
    signals: dict[str, SignalPublic]
    error: ErrorDetail | None = None


class IndexStatusPublic(BaseModel):
    """This worker's match index: loaded, at which bank change, how many entries, how fresh."""

    model_config = _STRICT

    ready: bool
    change_seq: int
    entries: dict[str, int]
    origin: Literal["snapshot", "rebuilt"] | None
    seconds_since_refresh: float | None
    last_error: str | None

    @classmethod
    def of(cls, status: IndexStatus) -> IndexStatusPublic:
        """From the domain status."""
        origin = status.origin if status.origin in ("snapshot", "rebuilt") else None
        return cls(
            ready=status.ready,
            change_seq=status.change_seq,
            entries=dict(status.entries),
            origin=origin,
            seconds_since_refresh=status.seconds_since_refresh,
            last_error=status.last_error,
        )


def hashed_fields(hashed: HashedContent) -> dict[str, object]:
    """The content fields shared by the hash and hash-and-match answers."""
    return {
        "content_type": hashed.content_type,
        "size": hashed.size,
        "signals": {
            name: SignalPublic(value=s.value, quality=s.quality)
            for name, s in sorted(hashed.signals.items())
        },
        "error": ErrorDetail(type=hashed.error.type, message=hashed.error.message)
        if hashed.error
        else None,
    }
