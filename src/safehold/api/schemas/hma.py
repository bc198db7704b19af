"""Shapes of the HMA-compatible routes: the JSON that Hasher-Matcher-Actioner 2.x clients send
and expect (``OpenMediaMatch`` in facebook/ThreatExchange: ``schemas/curation.py``,
``schemas/matching.py``), mapped onto Safehold's banks and entries.

Field names are HMA's, not Safehold's (``matching_enabled_ratio``, ``bank_content_id``,
``disable_until_ts``); every difference in meaning is listed in ``docs/hma-compatibility.md``.
An HMA *bank content* is a Safehold *bank entry*: one signal, one id.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from safehold.banks.models import Bank, BankEntry
from safehold.errors import InvalidInputError

#: HMA's ``disable_until_ts`` magic values (``BankContentConfig.ENABLED`` / ``DISABLED``).
HMA_ENABLED = 1
HMA_DISABLED = 0


def ratio_of(enabled: bool) -> float:
    """HMA's ``matching_enabled_ratio`` for a Safehold bank: 1.0 enabled, 0.0 disabled."""
    return 1.0 if enabled else 0.0


def enabled_from_ratio(ratio: float) -> bool:
    """Safehold's ``enabled`` for an HMA ``enabled_ratio``.

    HMA matches a bank for a fraction of content (a seeded coin flip); Safehold matches a bank
    fully or not at all, so only 0 and 1 are accepted.

    Raises:
        InvalidInputError: any other value (422).
    """
    if ratio == 1.0:
        return True
    if ratio == 0.0:
        return False
    raise InvalidInputError(
        "enabled_ratio must be 0 or 1: Safehold matches a bank fully or not at all "
        "(partial matching ratios are not supported)"
    )


def enabled_from_disable_until(ts: int, *, now: float | None = None) -> bool:
    """Safehold's entry ``enabled`` for HMA's ``disable_until_ts``.

    0 disables, 1 enables, a Unix time in the past enables (HMA: the disabling is over).

    Raises:
        InvalidInputError: negative, or a time in the future: Safehold has no timed disabling.
    """
    if ts < 0:
        raise InvalidInputError("disable_until_ts must be a non-negative integer")
    if ts == HMA_DISABLED:
        return False
    if ts == HMA_ENABLED or ts <= (time.time() if now is None else now):
        return True
    raise InvalidInputError(
        "disable_until_ts must be 0 (disabled) or 1 (enabled): Safehold cannot disable an "
        "entry until a time (timed disabling is not supported)"
    )


class HmaBank(BaseModel):
    """A bank as HMA shows it: ``{"name": ..., "matching_enabled_ratio": 1.0}``."""

    name: str
    matching_enabled_ratio: float

    @classmethod
    def of(cls, bank: Bank) -> HmaBank:
        """From a Safehold bank (ratio 1.0 when enabled, 0.0 when disabled)."""
        return cls(name=bank.name, matching_enabled_ratio=ratio_of(bank.enabled))


class HmaBankCreate(BaseModel):
    """``POST /c/banks``: a name, and optionally ``enabled_ratio`` (0 or 1) or ``enabled``."""

    name: str = Field(min_length=1, max_length=100)
    enabled_ratio: float | None = Field(default=None, ge=0, le=1)
    enabled: bool | None = None

    def wanted_enabled(self) -> bool:
        """``enabled_ratio`` if given, else ``enabled``, else enabled (HMA's order)."""
        if self.enabled_ratio is not None:
            return enabled_from_ratio(self.enabled_ratio)
        return True if self.enabled is None else self.enabled


class HmaBankUpdate(BaseModel):
    """``PUT /c/bank/{name}``: any of ``name`` (must be unchanged), ``enabled_ratio``,
    ``enabled``."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    enabled_ratio: float | None = Field(default=None, ge=0, le=1)
    enabled: bool | None = None

    def wanted_enabled(self) -> bool | None:
        """The enabled state asked for (``enabled_ratio`` wins, as in HMA), or None."""
        if self.enabled_ratio is not None:
            return enabled_from_ratio(self.enabled_ratio)
        return self.enabled


class HmaContentMetadata(BaseModel):
    """Optional ``metadata`` of ``POST /c/bank/{name}/content`` (unknown keys refused)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    content_id: str | None = Field(default=None, max_length=1000)
    content_uri: str | None = Field(default=None, max_length=2048)
    json_data: dict[str, Any] | None = Field(default=None, alias="json")


class HmaContentUpdate(BaseModel):
    """``PUT /c/bank/{name}/content/{id}``: ``disable_until_ts`` (0 or 1, see
    :func:`enabled_from_disable_until`)."""

    disable_until_ts: int | None = None


class HmaContent(BaseModel):
    """A bank entry as HMA shows bank content.

    ``collab_metadata`` is always empty and ``original_media_uri`` always null (Safehold
    keeps neither); ``signals`` is present only when asked for.
    """

    id: int
    disable_until_ts: int
    collab_metadata: dict[str, list[str]] = Field(default_factory=dict)
    original_media_uri: str | None = None
    bank: HmaBank
    signals: dict[str, str] | None = None

    @classmethod
    def of(cls, entry: BankEntry, bank: Bank, *, with_signal: bool = False) -> HmaContent:
        """From an entry and its bank; ``with_signal`` adds ``{signal_type: value}``."""
        return cls(
            id=entry.id,
            disable_until_ts=HMA_ENABLED if entry.enabled else HMA_DISABLED,
            bank=HmaBank.of(bank),
            signals={entry.signal_type: entry.value} if with_signal else None,
        )


class HmaContentAdded(BaseModel):
    """What adding content or signals returns: HMA's ``{"id", "signals"}``, plus
    ``entry_ids`` (Safehold stores each signal as its own entry; ``id`` is the first)."""

    id: int
    signals: dict[str, str]
    entry_ids: dict[str, int]


class HmaDeleted(BaseModel):
    """``DELETE /c/bank/{name}/content/{id}``: how many entries were deleted (0 or 1)."""

    deleted: int


class HmaMessage(BaseModel):
    """HMA's plain success body, e.g. ``{"message": "Done"}``."""

    message: str


class HmaMatch(BaseModel):
    """One matched entry: its id and the distance as a string (HMA's ``pretty_str``)."""

    bank_content_id: int
    distance: str


class HmaRawLookup(BaseModel):
    """``GET /m/raw_lookup``: entry ids, or ``{bank_content_id, distance}`` objects."""

    matches: list[int] | list[HmaMatch]


class HmaDecision(BaseModel):
    """What a ``client`` key gets instead of HMA's match lists (which name banks and
    entries): whether anything matched and the action to take."""

    match: bool
    action: Literal["none", "review", "block"]


class HmaIndexStatus(BaseModel):
    """One signal type in ``GET /m/index/status``.

    ``built_to`` is the bank change sequence the index reflects (HMA: a Unix time); -1 until
    the index is loaded.
    """

    present: bool
    built_to: int
    size: int


class HmaSignalTypeIndex(BaseModel):
    """One signal type in ``GET /c/signal_type/index`` (sizes in entries; ``newest_db_item``
    and ``index_built_to`` are change sequence numbers)."""

    db_size: int
    index_size: int
    index_out_of_date: bool
    newest_db_item: int
    index_built_to: int


class HmaSignalTypeConfig(BaseModel):
    """``GET /c/signal_type``: every Safehold signal type is always on (ratio 1.0)."""

    name: str
    enabled_ratio: float


class HmaContentTypeConfig(BaseModel):
    """``GET /c/content_type``: the content types Safehold hashes."""

    name: str
    enabled: bool
