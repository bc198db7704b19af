"""The JSON bounds guard hands ijson exactly the bytes it was given, whatever the chunking."""

from __future__ import annotations

import io
import json

import ijson  # type: ignore[import-untyped]
import pytest

from safehold.banks.formats.json_bounds import BoundedJson, JsonBoundError

# Strings holding brackets, quotes and backslashes, numbers split across reads, nesting.
DOC = json.dumps({
    "@odata.context": "x#Media",
    "value": [
        {"MediaID": i, "Category": 1.5e3, "Note": 'a]b}c"d\\e[f{' * 3, "Files": [{"n": [i, -2]}]}
        for i in range(200)
    ],
}).encode()  # fmt: skip


@pytest.mark.parametrize("buf_size", [1, 2, 7, 64, 1000, 65536])
def test_items_are_those_ijson_reads_unguarded(buf_size: int) -> None:
    expected = list(ijson.items(io.BytesIO(DOC), "value.item", use_float=True))
    guarded = BoundedJson(io.BytesIO(DOC), item_depth=3)
    got = list(ijson.items(guarded, "value.item", use_float=True, buf_size=buf_size))
    assert got == expected
    assert len(got) == 200


def test_each_bound_stops_the_read() -> None:
    too_deep = BoundedJson(io.BytesIO(b"[" * 5 + b"]" * 5), item_depth=3, max_depth=4)
    with pytest.raises(JsonBoundError, match="nested deeper than 4 levels"):
        too_deep.read(100)
    assert BoundedJson(io.BytesIO(b"[" * 4 + b"]" * 4), 3, max_depth=4).read(100) == b"[[[[]]]]"
    long_number = BoundedJson(io.BytesIO(b"[" + b"1" * 50 + b"]"), 3, max_token=40)
    with pytest.raises(JsonBoundError, match="a string or number over 40 bytes"):
        b"".join(iter(lambda: long_number.read(10), b""))
    big_item = BoundedJson(io.BytesIO(b'{"value":[{"k":"' + b"v" * 80 + b'"}]}'), 3, max_item=60)
    with pytest.raises(JsonBoundError, match="an item over 60 bytes"):
        b"".join(iter(lambda: big_item.read(16), b""))
