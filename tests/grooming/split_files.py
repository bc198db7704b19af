"""Helpers for the tests of splits with their own template file (``holdout2`` to ``holdout11``):
reading the file, its banks and lines, and regexes that recognise its generated lines."""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from typing import Any

from safehold.grooming.synthetic import SPLIT_TEMPLATE_FILES

SLOT = re.compile(r"\{(\w+)\}")


def read_packaged(name: str) -> str:
    """A data file of ``safehold.grooming`` as text."""
    return resources.files("safehold.grooming").joinpath(name).read_text()


def own_file(split: str) -> dict[str, Any]:
    """The split's own template file alone, as written."""
    return tomllib.loads(read_packaged(SPLIT_TEMPLATE_FILES[split]))


def banks(data: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Bank name (``grooming.x``, ``negative.y``, ``smalltalk*``) -> split -> templates."""
    found = {
        f"{kind}.{name}": bank
        for kind in ("grooming", "negative")
        for name, bank in data.get(kind, {}).items()
    }
    found.update({name: data[name] for name in data if name.startswith("smalltalk")})
    return found


def texts(template: str) -> list[str]:
    """The lines of a template (``A: ... || B: ...``) without their speakers."""
    return [part.strip().partition(":")[2].strip() for part in template.split("||")]


def shingles(line: str, n: int) -> set[str]:
    """The runs of ``n`` consecutive words of ``line``."""
    words = line.split()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def line_patterns(split: str) -> list[re.Pattern[str]]:
    """One regex per template line of the split's own file, its slots matching any of the
    file's values for them."""
    own = own_file(split)
    patterns = []
    for bank in banks(own).values():
        for template in bank[split]:
            for text in texts(template):
                pieces = SLOT.split(text)
                regex = "".join(
                    re.escape(piece)
                    if i % 2 == 0
                    else "(?:" + "|".join(map(re.escape, own["slots"][piece])) + ")"
                    for i, piece in enumerate(pieces)
                )
                patterns.append(re.compile(regex))
    return patterns
