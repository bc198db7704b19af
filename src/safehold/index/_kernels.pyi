from collections.abc import Sequence
from typing import Any

from typing_extensions import Buffer

def build_table(
    rows: Buffer,
    n: int,
    words: int,
    start: int,
    width: int,
    k: int,
    s: int,
    offsets: Buffer,
    entries: Buffer,
) -> None: ...
def make_segment(
    rows: Buffer,
    n: int,
    words: int,
    tables: Sequence[tuple[int, int, int, int, int, Buffer, Buffer, Buffer]],
) -> Any: ...
def mih_search(
    handle: Any, skip: Buffer | None, queries: Buffer, nq: int, radius: int, radii: Sequence[int]
) -> tuple[bytes, bytes, bytes]: ...
def scan_search(
    rows: Buffer, n: int, words: int, skip: Buffer | None, queries: Buffer, nq: int, radius: int
) -> tuple[bytes, bytes, bytes]: ...
def flavour() -> str: ...
def flavours() -> list[str]: ...
def set_flavour(name: str) -> None: ...
