"""Exact radius search over binary hashes (PDQ and vPDQ frames).

``flat.FlatIndex`` is the exact brute-force baseline; the sublinear index replaces it behind the
same interface (issue 3).
"""

from safehold.index.flat import FlatIndex, hex_to_rows

__all__ = ["FlatIndex", "hex_to_rows"]
