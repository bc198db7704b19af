"""URL list import speed and URL check latency against lists of growing size.

Builds a bank of ``--entries`` made-up ``url`` entries (hosts under ``example``, reserved by
RFC 2606; a mix of host, path-prefix, exact-path and exact-URL entries), then times checks of
URLs that match and that do not, through the live matcher's database look-up
(:class:`safehold.matching.url_source.UrlSource`, one indexed query per URL). Printed: import
rows/s (canonicalisation included), and per-check latency p50 / p99 (ms) at each list size:
the look-up is an index probe per expression, so the latency should not grow with the list.

    . .venv/bin/activate
    python benchmarks/urls.py --entries 10000 100000 --checks 2000
    python benchmarks/urls.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from safehold.banks.models import NewEntry
from safehold.banks.service import BankService
from safehold.banks.validation import EntryValidator
from safehold.matching.url_check import UrlMatcher
from safehold.settings import Settings
from safehold.signals.url import url_signal
from safehold.storage.engine import open_database


def made_up_urls(count: int, seed: int) -> Iterator[str]:
    """``count`` distinct benign URLs of the four entry forms."""
    rng = random.Random(seed)
    for i in range(count):
        host = f"h{i}.s{rng.randrange(1000)}.example"
        form = i % 4
        if form == 0:
            yield host
        elif form == 1:
            yield f"http://{host}/dir{rng.randrange(100)}/"
        elif form == 2:
            yield f"https://www.{host}/p/{rng.randrange(10**6)}.html"
        else:
            yield f"http://{host}/view?id={rng.randrange(10**6)}"


def _entries(urls: Iterator[str]) -> Iterator[NewEntry]:
    validator = EntryValidator()
    for url in urls:
        yield validator.validate(NewEntry("url", url))


def _under(url: str) -> str:
    """A URL that the entry made from ``url`` matches (a page under a host or a prefix, the
    exact path with a query, or the exact URL itself)."""
    if "?" in url:
        return url
    if url.endswith(".html"):
        return url + "?a=1"
    return url.rstrip("/") + "/x/y.html?a=1"


def _latency_ms(matcher: UrlMatcher, urls: list[str]) -> tuple[float, float, int]:
    """p50 and p99 of one check (canonicalisation and look-up), ms; URLs that matched."""
    times = []
    matched = 0
    for url in urls:
        start = time.perf_counter()
        matched += bool(matcher(url_signal(url)))
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.99) - 1)], matched


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=args.database_url)
        engine = open_database(settings)
        service = BankService(engine)
        bank = f"bench-urls-{int(time.time())}"
        service.create_bank(bank)
        held = 0
        print(
            "entries   import rows/s   hit p50 ms   hit p99 ms   miss p50 ms   miss p99 ms"
            "   matched"
        )
        for target in sorted(args.entries):
            listed = list(made_up_urls(target - held, seed=target))
            start = time.perf_counter()
            added = service.add_entries(bank, _entries(iter(listed)), validated=True)
            rate = added / (time.perf_counter() - start)
            held += added
            matcher = UrlMatcher(engine, [bank])
            rng = random.Random(1)
            hits = [_under(u) for u in rng.sample(listed, min(args.checks, len(listed)))]
            misses = [f"http://www.not-listed-{i}.example/a/b.html" for i in range(args.checks)]
            hit = _latency_ms(matcher, hits)
            miss = _latency_ms(matcher, misses)
            print(
                f"{held:>7,}   {rate:>13,.0f}   {hit[0]:>10.3f}   {hit[1]:>10.3f}   "
                f"{miss[0]:>11.3f}   {miss[1]:>11.3f}   {hit[2]}/{len(hits)} hits, "
                f"{miss[2]}/{len(misses)} misses"
            )
        service.delete_bank(bank)
        engine.dispose()


if __name__ == "__main__":
    main()
