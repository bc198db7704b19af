"""The matcher's view of the banks: thresholds, enabled state, match action and category.

A :class:`BankView` is immutable and replaced whole when the bank change log moves, so a
query reads one consistent set of bank rules without a lock. The threshold rule is the scan
matcher's (:mod:`safehold.scanning.matcher`): a per-request override wins over the bank's own
threshold, which wins over the settings' default, which wins over the signal type's
``default_threshold``.

``match_action`` is what an untrusted (``client``) caller is told to do on a match:
``review`` or ``block``; several matched banks give the strongest (:func:`strongest_action`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from safehold.banks.validation import quote_name
from safehold.errors import ConflictError, NotFoundError
from safehold.scanning.matcher import pick_threshold

#: Actions from weakest to strongest; ``none`` means no match.
ACTIONS = ("none", "review", "block")
_RANK = {name: rank for rank, name in enumerate(ACTIONS)}


def strongest_action(actions: Iterable[str]) -> str:
    """The strongest of ``actions`` (``block`` > ``review``); ``none`` for none.

    An unknown action string (a newer schema) counts as ``review``: never weaker than a match.
    """
    best = "none"
    for action in actions:
        name = action if action in _RANK and action != "none" else "review"
        if _RANK[name] > _RANK[best]:
            best = name
    return best


@dataclass(frozen=True, slots=True)
class BankInfo:
    """One bank's matching rules (no entries).

    Attributes:
        thresholds: the bank's own per signal type thresholds (``{"pdq": 24}``).
        match_action: ``review`` or ``block``.
        category: the bank's ``scheme:code`` (given to its entries that carry none), or None.
    """

    id: int
    name: str
    enabled: bool
    thresholds: Mapping[str, int] = field(default_factory=dict)
    match_action: str = "review"
    category: str | None = None


def _fold(name: str) -> str:
    """Bank names are ASCII and unique ignoring case; a non-ASCII name matches none."""
    return name.lower() if name.isascii() else "\0" + name


@dataclass(frozen=True)
class BankView:
    """Every bank's :class:`BankInfo`, by id and by case-folded name."""

    by_id: Mapping[int, BankInfo]
    by_name: Mapping[str, BankInfo]
    enabled_ids: frozenset[int]

    @classmethod
    def of(cls, infos: Iterable[BankInfo]) -> BankView:
        """Index ``infos``."""
        listed = list(infos)
        return cls(
            by_id={b.id: b for b in listed},
            by_name={_fold(b.name): b for b in listed},
            enabled_ids=frozenset(b.id for b in listed if b.enabled),
        )

    def allowed(self, bank_names: Sequence[str] = ()) -> frozenset[int]:
        """Ids of the banks a query may match: every enabled bank, or the named ones.

        Raises:
            NotFoundError: a named bank does not exist.
            ConflictError: a named bank is disabled (nothing could match it).
        """
        if not bank_names:
            return self.enabled_ids
        picked: set[int] = set()
        for name in bank_names:
            info = self.by_name.get(_fold(name))
            if info is None:
                raise NotFoundError(f"no bank named {quote_name(name)}")
            if not info.enabled:
                raise ConflictError(f"bank {quote_name(info.name)} is disabled")
            picked.add(info.id)
        return frozenset(picked)

    def threshold(
        self,
        bank: BankInfo,
        signal_type: str,
        overrides: Mapping[str, int],
        defaults: Mapping[str, int],
    ) -> int:
        """Distance threshold for ``signal_type`` in ``bank`` (override > bank > default)."""
        return pick_threshold(signal_type, overrides, bank.thresholds, defaults)

    def groups(
        self,
        signal_type: str,
        allowed: Iterable[int],
        overrides: Mapping[str, int],
        defaults: Mapping[str, int],
    ) -> dict[int, frozenset[int]]:
        """``{threshold: bank ids using it}`` over the ``allowed`` banks."""
        out: dict[int, set[int]] = {}
        for bank_id in allowed:
            bank = self.by_id.get(bank_id)
            if bank is not None:
                t = self.threshold(bank, signal_type, overrides, defaults)
                out.setdefault(t, set()).add(bank_id)
        return {t: frozenset(ids) for t, ids in out.items()}

    def action_for(self, bank_names: Iterable[str]) -> str:
        """The strongest ``match_action`` of the named banks (``none`` when none are named;
        a bank deleted meanwhile counts as ``review``)."""
        actions = []
        for name in bank_names:
            info = self.by_name.get(_fold(name))
            actions.append(info.match_action if info is not None else "review")
        return strongest_action(actions)
