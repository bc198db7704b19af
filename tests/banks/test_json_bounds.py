"""The JSON bounds guard hands ijson exactly the bytes it was given, whatever the chunking."""

from __future__ import annotations

import io
import itertools
import json
import random

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
    assert too_deep.read(100) == b"[["  # up to the item that holds the violation
    with pytest.raises(JsonBoundError, match="nested deeper than 4 levels") as raised:
        too_deep.read(100)
    assert raised.value.item_start == 2
    with pytest.raises(JsonBoundError):  # and again
        too_deep.read(100)
    assert BoundedJson(io.BytesIO(b"[" * 4 + b"]" * 4), 3, max_depth=4).read(100) == b"[[[[]]]]"
    long_number = BoundedJson(io.BytesIO(b"[" + b"1" * 50 + b"]"), 3, max_token=40)
    with pytest.raises(JsonBoundError, match="a string or number over 40 bytes"):
        b"".join(iter(lambda: long_number.read(10), b""))
    big_item = BoundedJson(io.BytesIO(b'{"value":[{"k":"' + b"v" * 80 + b'"}]}'), 3, max_item=60)
    with pytest.raises(JsonBoundError, match="an item over 60 bytes"):
        b"".join(iter(lambda: big_item.read(16), b""))


_DEEP, _LONG = b'{"a":[[[[1]]]]}', b'{"a":"' + b"x" * 50 + b'"}'


@pytest.mark.parametrize(
    ("bad", "bounds", "message", "buf_size"),
    [
        (_DEEP, {"max_depth": 5}, "nested deeper than 5 levels", 8),
        (_DEEP, {"max_depth": 5}, "nested deeper than 5 levels", 65536),
        # (a token is bounded where it spans reads: held back, unfinished)
        (_LONG, {"max_token": 40}, "a string or number over 40", 8),
        (_LONG, {"max_item": 40}, "an item over 40 bytes", 8),
        (_LONG, {"max_item": 40}, "an item over 40 bytes", 65536),
    ],
)
def test_a_bound_error_comes_after_the_items_before_it(
    bad: bytes, bounds: dict[str, int], message: str, buf_size: int
) -> None:
    # The reader skipping a bad VICS media item needs every item before it parsed, and the
    # bytes not parsed: the good items may share the bad one's chunk.
    good = b'{"MediaID":1},{"MediaID":2},'
    doc = b'{"value":[' + good + bad + b',{"MediaID":4}]}'
    marks = iter(range(100))
    guarded = BoundedJson(io.BytesIO(doc), 3, mark=lambda: next(marks), **bounds)
    got: list[object] = []
    with pytest.raises(JsonBoundError, match=message) as raised:
        got.extend(ijson.items(guarded, "value.item", buf_size=buf_size))
    assert got == [{"MediaID": 1}, {"MediaID": 2}]
    assert raised.value.item_start == doc.index(bad)
    offset, depth, data, handed, _ = guarded.unparsed()
    assert data == doc[offset : offset + len(data)]  # nothing taken from the source is lost
    before = doc[:offset]
    assert depth == sum(map(before.count, b"{[")) - sum(map(before.count, b"}]"))
    # the bad item opens in the bytes handed on, or before them (they start inside it)
    assert offset <= doc.index(bad) <= offset + handed or depth >= 3
    if buf_size > len(doc):  # one chunk: handed on up to the bad item
        assert (offset, handed) == (0, doc.index(bad))


def _random_json(rng: random.Random, depth: int = 0) -> object:
    """Nested objects and arrays whose strings hold brackets and quotes (no backslashes
    unless the dice say so), numbers of every length."""
    roll = rng.random()
    if depth < 6 and roll < 0.3:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    if depth < 6 and roll < 0.6:
        return {_text(rng): _random_json(rng, depth + 1) for _ in range(rng.randrange(4))}
    if roll < 0.8:
        return _text(rng)
    return rng.choice([rng.randrange(10**12), -1.5e-3, True, None])


def _text(rng: random.Random) -> str:
    pieces = ["a", "{", "}", "[", "]", " ", ",", ":", "x" * rng.randrange(30)]
    if rng.random() < 0.05:
        pieces.append('"\\')  # escaped in JSON: the chunk takes the token walk
    return "".join(rng.choice(pieces) for _ in range(rng.randrange(8)))


def _outcome(doc: bytes, sizes: list[int], bounds: dict[str, int]) -> tuple[object, ...]:
    guarded = BoundedJson(io.BytesIO(doc), item_depth=3, **bounds)
    out = []
    try:
        for size in itertools.cycle(sizes):
            chunk = guarded.read(size)
            if not chunk:
                break
            out.append(chunk)
    except JsonBoundError as exc:
        return (b"".join(out), str(exc))
    return (b"".join(out), None, guarded.depth, guarded.offset)


@pytest.mark.parametrize("seed", range(40))
def test_the_array_scan_decides_as_the_token_walk_does(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks without a backslash are scanned with array operations; the token walk is the
    # reference: the same bytes handed on, the same bound errors, the same state after.
    rng = random.Random(seed)
    doc = json.dumps({"value": [_random_json(rng) for _ in range(60)]}).encode()
    sizes = [rng.choice([1, 3, 17, 64, 256, 4096]) for _ in range(5)]
    bounds = rng.choice([{}, {"max_depth": 5}, {"max_item": 200}, {"max_token": 30}])
    fast = _outcome(doc, sizes, bounds)
    monkeypatch.setattr(BoundedJson, "_scan_unescaped", lambda *_: None)
    assert fast == _outcome(doc, sizes, bounds)
    if bounds == {}:
        assert fast == (doc, None, 0, len(doc))  # nothing passed: every byte handed on
