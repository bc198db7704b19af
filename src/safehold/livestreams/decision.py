"""The per-stream decision: alert on a bank when k of the last n samples matched it.

One matching frame can be a coincidence (a near-uniform frame, a logo shared with known
material); known material on air matches frame after frame. So each bank has a k-of-n rule
(:class:`~safehold.livestreams.models.Decision`, per bank or the stream's default): after
each sample, a bank whose entries matched at least k of the last n samples raises one
:class:`~safehold.livestreams.models.StreamAlert`, naming the entry matched most often in that
window (ties: the closer one, then the lower id). The bank then stays quiet until a full
window of n samples passes without a match of it, so one continuous appearance raises one
alert, and a later reappearance raises another.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from datetime import datetime

from safehold.livestreams.models import MAX_WINDOW, StreamAlert, StreamConfig
from safehold.scanning.records import MatchInfo
from safehold.storage.tables import utcnow


class KOfNDecider:
    """Feed it the matches of each sample in order; it returns the alerts due.

    Args:
        config: the stream's decisions (default and per bank).
    """

    def __init__(self, config: StreamConfig) -> None:
        self.config = config
        self._samples: deque[dict[str, list[MatchInfo]]] = deque(maxlen=MAX_WINDOW)
        self._fired: set[str] = set()

    def add(
        self, stream_seconds: float, matches: Sequence[MatchInfo], now: datetime | None = None
    ) -> list[StreamAlert]:
        """Record one sample (its matches, possibly none) taken at ``stream_seconds``.

        Returns:
            The alerts this sample completes (at most one per bank), by bank name.
        """
        by_bank: dict[str, list[MatchInfo]] = {}
        for match in matches:
            by_bank.setdefault(match.bank.lower(), []).append(match)
        self._samples.append(by_bank)
        recent_banks = {bank for sample in self._samples for bank in sample}
        alerts: list[StreamAlert] = []
        for bank in sorted(recent_banks | self._fired):
            rule = self.config.decision_for(bank)
            window = list(self._samples)[-rule.window :]
            hits = [sample[bank] for sample in window if bank in sample]
            if not hits:
                self._fired.discard(bank)  # a full window without it: armed again
                continue
            if bank in self._fired or len(hits) < rule.frames:
                continue
            self._fired.add(bank)
            alerts.append(_alert(hits, stream_seconds, len(hits), rule.window, now or utcnow()))
        return alerts


def _alert(
    hits: list[list[MatchInfo]], stream_seconds: float, matched: int, window: int, now: datetime
) -> StreamAlert:
    """The alert for one bank: its most often matched entry in the window."""
    counts: Counter[int] = Counter()
    best: dict[int, MatchInfo] = {}
    for sample in hits:
        for entry_id in {m.entry_id for m in sample}:
            counts[entry_id] += 1
        for m in sample:
            if m.entry_id not in best or m.distance < best[m.entry_id].distance:
                best[m.entry_id] = m
    entry_id = min(counts, key=lambda e: (-counts[e], best[e].distance, e))
    top = best[entry_id]
    return StreamAlert(
        bank=top.bank,
        entry_id=entry_id,
        distance=top.distance,
        stream_seconds=round(stream_seconds, 3),
        matched_frames=matched,
        window=window,
        detected_at=now,
        category=top.category,
    )
