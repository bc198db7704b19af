"""Fixtures for index tests: run a test under each kernel flavour the CPU supports.

The brute-force reference lives in ``index_reference.py`` beside this file; its folder is
put on ``sys.path`` here, before pytest imports the test modules of this folder, so that they
can import it under any import mode (the project uses ``--import-mode=importlib``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from safehold.index import kernels

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(params=kernels.flavours() if kernels.available() else ["none"])
def flavour(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each supported instruction-set flavour in turn (avx512, avx2, popcnt, base)."""
    before = kernels.flavour()
    kernels.use_flavour(request.param)
    yield str(request.param)
    kernels.use_flavour(before)
