"""Load the demo bank ``demo-known`` from the demo originals, as ``safehold bank add-media`` does.

Idempotent: the bank is created when missing and entries it already holds are skipped by
``BankService.add_entries``, so ``safehold demo`` can run again on the same data directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from safehold.banks.media import MediaHasher
from safehold.banks.models import Category, NewEntry
from safehold.banks.service import BankService
from safehold.errors import ContentError, NotFoundError
from safehold.settings import Settings

DEMO_BANK = "demo-known"
DEMO_CATEGORY = Category("local", "demo")
DEMO_SOURCE = "safehold demo (scikit-image sample photos, synthetic video)"


def load_demo_bank(service: BankService, originals: Sequence[Path], settings: Settings) -> int:
    """Create ``demo-known`` if needed and add every signal of the originals it lacks.

    Returns:
        number of entries added (0 on a re-run).

    Raises:
        ContentError: an original could not be hashed (the demo's own files always should).
    """
    try:
        service.get_bank(DEMO_BANK)
    except NotFoundError:
        service.create_bank(
            DEMO_BANK,
            description="Benign sample photos and a synthetic video, for the demo only",
            source=DEMO_SOURCE,
        )
    hasher = MediaHasher(settings)
    entries: list[NewEntry] = []
    for path in originals:
        result = hasher.hash_file(path, category=DEMO_CATEGORY, source="demo", note=path.name)
        if result.error is not None:
            raise ContentError(f"{path.name}: {result.error.message}")
        entries.extend(result.entries)
    return service.add_entries(DEMO_BANK, entries)
