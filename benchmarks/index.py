"""Benchmark of the exact PDQ index against python-threatexchange and FAISS, in one run.

For each bank size and data set (``uniform`` random hashes; ``clustered``: one centre per
100 hashes, members up to 16 bits from their centre, as real lists hold many near-duplicates)
it runs Q queries (half planted near-duplicates of bank entries 1..31 bits away, half random
misses) at radius 31 and prints, per system: build seconds, resident bytes per hash (RSS
growth while building), queries/s one query per call and one batch call (both on one thread,
per CPU-second of that thread, so other jobs on a shared machine do not distort them) and a
batch on all cores (wall-clock), recall against an exhaustive scan, and Safehold's
speed-up. It also measures Safehold's snapshot start-up (a fresh process loading the
snapshot and answering one query) and update visibility (add / disable / enable / remove
until the next query sees the change). Each system runs in its own process.

Peers: python-threatexchange ``PDQIndex`` (FAISS ``IndexBinaryMultiHash``, what HMA uses)
and FAISS ``IndexBinaryFlat`` (exhaustive). Both need the ``dev`` extra. Slow peers are
timed on a sample: one-query rates on as many queries as fit in ``--peer-seconds``, batch
rates and recall on ``--peer-queries`` queries (default: all up to 2M hashes, else 1,000).

    python benchmarks/index.py                        # 1M, both data sets, all peers
    python benchmarks/index.py --sizes 1000000 3000000 --datasets clustered
    python benchmarks/index.py --sizes 10000000 --peers faiss --peer-queries 1000
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from safehold.index import BinaryIndex, kernels

RADIUS = 31
Pairs = set[tuple[int, int]]


def rss() -> int:
    """Resident set size of this process, bytes (Linux /proc), after returning freed heap
    memory to the system (glibc ``malloc_trim``) so that freed temporaries do not count."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def flip(rows: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Copy of ``rows`` with ``counts[i]`` distinct random bits flipped in row ``i``."""
    out = rows.copy()
    cmax = int(counts.max(initial=0))
    if cmax == 0:
        return out
    # distinct positions per row: the first cmax of a random permutation of 0..255 (in blocks)
    for lo in range(0, len(rows), 1 << 18):
        hi = min(len(rows), lo + (1 << 18))
        pos = np.argsort(rng.random((hi - lo, 256), dtype=np.float32), axis=1)[:, :cmax]
        for t in range(cmax):
            sel = np.flatnonzero(counts[lo:hi] > t)
            p = pos[sel, t]
            out[lo + sel, p // 64] ^= np.uint64(1) << (p % 64).astype(np.uint64)
    return out


def make_bank(n: int, dataset: str, rng: np.random.Generator) -> np.ndarray:
    """``(n, 4)`` uint64 PDQ-like rows: uniform, or clustered near-duplicates."""
    if dataset == "uniform":
        return rng.integers(0, 2**64 - 1, size=(n, 4), dtype=np.uint64, endpoint=True)
    centres = rng.integers(0, 2**64 - 1, size=(max(1, n // 100), 4), dtype=np.uint64, endpoint=True)
    members = centres[rng.integers(0, len(centres), size=n)]
    out = np.empty_like(members)
    for lo in range(0, n, 1 << 20):  # blocks bound the temporary permutation arrays
        hi = min(n, lo + (1 << 20))
        out[lo:hi] = flip(members[lo:hi], rng.integers(0, 17, size=hi - lo), rng)
    return out


def make_queries(rows: np.ndarray, q: int, rng: np.random.Generator) -> np.ndarray:
    """Half planted near-duplicates (1..31 bits from a bank row), half random; shuffled."""
    planted = flip(rows[rng.integers(0, len(rows), size=q // 2)], rng.integers(1, 32, q // 2), rng)
    misses = rng.integers(0, 2**64 - 1, size=(q - q // 2, 4), dtype=np.uint64, endpoint=True)
    return np.ascontiguousarray(rng.permutation(np.concatenate([planted, misses])))


def to_bytes(rows: np.ndarray) -> np.ndarray:
    """uint64 rows as PDQ byte strings (big-endian words, as in hex) for FAISS."""
    return np.ascontiguousarray(rows.astype(">u8")).view(np.uint8).reshape(len(rows), -1)


def to_hex(rows: np.ndarray) -> list[str]:
    """uint64 rows as 64-digit PDQ hex strings (python-threatexchange's input)."""
    text = to_bytes(rows).tobytes().hex()
    return [text[i : i + 64] for i in range(0, len(text), 64)]


def truth(rows: np.ndarray, queries: np.ndarray, threads: int) -> list[Pairs]:
    """Exhaustive (query, row) pairs within RADIUS: the compiled linear scan, tiled, threaded."""
    from concurrent.futures import ThreadPoolExecutor

    blocks = np.array_split(np.arange(len(queries)), max(1, threads))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        raws = list(pool.map(lambda b: kernels.scan_search(rows, None, queries[b], RADIUS), blocks))
    out: list[Pairs] = []
    for raw in raws:
        for i in range(len(raw.offsets) - 1):
            a, b = int(raw.offsets[i]), int(raw.offsets[i + 1])
            out.append(
                set(zip(raw.positions[a:b].tolist(), raw.distances[a:b].tolist(), strict=True))
            )
    return out


def recall(found: list[Pairs], want: list[Pairs]) -> float:
    """Share of true (row, distance) pairs found; wrong distances count as misses."""
    total = sum(len(w) for w in want)
    return 1.0 if total == 0 else sum(len(f & w) for f, w in zip(found, want, strict=True)) / total


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def single_rate(one: Callable[[int], Any], count: int, budget: float) -> float:
    """Queries/s of ``one(i)``, one query per call, over up to ``count`` queries or ``budget``
    seconds, per second of this thread's CPU time (other processes on a shared machine do
    not count against it; on an idle machine it equals wall-clock time)."""
    start, cpu, done = time.perf_counter(), time.thread_time(), 0
    while done < count and (done < 20 or time.perf_counter() - start < budget):
        one(done)
        done += 1
    return done / (time.thread_time() - cpu)


def batch_rates(run: Callable[[int], Any], count: int, threads: int) -> tuple[Any, float, float]:
    """Run a batch of ``count`` queries on one thread (rate per CPU-second) and on ``threads``
    threads (wall-clock rate); returns the one-thread result and both rates."""
    cpu = time.thread_time()
    out = run(1)
    one = count / (time.thread_time() - cpu)
    _, wall = timed(lambda: run(threads))
    return out, one, count / wall


def run_safehold(rows, queries, args) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ids = np.arange(len(rows), dtype=np.int64)
    base = rss()
    index, build = timed(lambda: BinaryIndex.from_arrays(ids, rows, build_threads=args.threads))
    gc.collect()
    res = {"build_s": build, "bytes": (rss() - base) / len(rows)}
    res["exact_bytes"] = index.stats().nbytes / len(rows)
    res["single"] = single_rate(lambda i: index.search(queries[i], RADIUS), len(queries), 1e9)
    batch, res["batch"], res["batch_n"] = batch_rates(
        lambda n: index.search_batch(queries, RADIUS, threads=n), len(queries), args.threads
    )
    res["found"] = [
        set(zip(batch[i][0].tolist(), batch[i][1].tolist(), strict=True))
        for i in range(len(queries))
    ]
    res["startup_s"], res["visible_s"] = snapshot_and_updates(index, rows, queries, args)
    return res


def snapshot_and_updates(index: BinaryIndex, rows, queries, args) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Start-up seconds of a fresh process from a snapshot; worst update visibility, s."""
    with tempfile.TemporaryDirectory(dir=args.snapshot_dir) as tmp:
        path = Path(tmp) / "bench.idx"
        index.save(path, 1)
        code = (
            "import sys,time,numpy as np;t=time.perf_counter();"
            "from safehold.index import BinaryIndex;"
            f"ix,seq=BinaryIndex.load({str(path)!r});ix.search(np.zeros(4,np.uint64));"
            "print(time.perf_counter()-t)"
        )
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        startup = time.perf_counter() - start
    worst = 0.0
    rng = np.random.default_rng(7)
    for i in range(20):
        new = rng.integers(0, 2**64 - 1, size=(1, 4), dtype=np.uint64, endpoint=True)
        entry = -1 - i
        for change, want in (
            ("add", True),
            ("disable", False),
            ("enable", True),
            ("remove", False),
        ):
            t = time.perf_counter()
            if change == "add":
                index.add([entry], new)
            else:
                getattr(index, change)([entry])
            seen = entry in index.search(new[0], 0)[0].tolist()
            worst = max(worst, time.perf_counter() - t)
            assert seen == want, (change, seen)
    index.wait()
    return startup, worst


def run_faiss(rows, queries, args) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    import faiss

    codes, qcodes = to_bytes(rows), to_bytes(queries)
    base = rss()
    index = faiss.IndexBinaryFlat(256)
    _, build = timed(lambda: index.add(codes))
    res = {"build_s": build, "bytes": (rss() - base) / len(rows)}
    faiss.omp_set_num_threads(1)
    res["single"] = single_rate(
        lambda i: index.range_search(qcodes[i : i + 1], RADIUS + 1), len(queries), args.peer_seconds
    )
    sub = qcodes[: args.sample]

    def batch(threads: int) -> Any:
        faiss.omp_set_num_threads(threads)
        return index.range_search(sub, RADIUS + 1)

    (lims, dist, labels), res["batch"], res["batch_n"] = batch_rates(batch, len(sub), args.threads)
    res["found"] = [
        set(
            zip(
                labels[lims[i] : lims[i + 1]].tolist(),
                dist[lims[i] : lims[i + 1]].tolist(),
                strict=True,
            )
        )
        for i in range(len(sub))
    ]
    return res


def run_pytx(rows, queries, args) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    import faiss
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    qhex = to_hex(queries)
    base = rss()

    def build() -> Any:
        return PDQIndex(list(zip(to_hex(rows), range(len(rows)), strict=True)))

    index, build_s = timed(build)
    gc.collect()
    res = {"build_s": build_s, "bytes": (rss() - base) / len(rows)}
    faiss.omp_set_num_threads(1)
    res["single"] = single_rate(lambda i: index.query(qhex[i]), len(queries), args.peer_seconds)
    sub = qhex[: args.sample]

    def batch(threads: int) -> Any:
        faiss.omp_set_num_threads(threads)
        return index.index.search_with_distance_in_result(sub, RADIUS)

    out, res["batch"], res["batch_n"] = batch_rates(batch, len(sub), args.threads)
    res["found"] = [{(int(i), int(d)) for i, _, d in out[h]} for h in sub]
    return res


def report(n: int, dataset: str, q: int, results: dict[str, dict[str, Any]], threads: int) -> None:
    """Print one table: every system, and Safehold's speed-up over each peer."""
    me = results["safehold"]
    print(f"\n## {dataset}, {n:,} hashes, {q:,} queries at radius {RADIUS}")
    print(
        f"{'system':<9}{'build s':>8}{'B/hash':>8}{'q/s 1':>9}{'q/s batch':>10}"
        f"{f'batch x{threads}':>10}{'recall':>8}{'x 1':>7}{'x batch':>8}"
        f"{f'x b{threads}':>7}  queries"
    )
    for name, r in results.items():
        ratios = ["", "", ""]
        if name != "safehold":
            ratios = [f"{me[k] / r[k]:.1f}" for k in ("single", "batch", "batch_n")]
        print(
            f"{name:<9}{r['build_s']:>8.2f}{r['bytes']:>8.1f}{r['single']:>9,.0f}"
            f"{r['batch']:>10,.0f}{r['batch_n']:>10,.0f}{r['recall']:>8.4f}"
            f"{ratios[0]:>7}{ratios[1]:>8}{ratios[2]:>7}  {len(r['found']):,}"
        )
    print(
        f"safehold: {me['exact_bytes']:.1f} B/hash in arrays; snapshot start-up "
        f"{me['startup_s']:.2f} s (fresh process, warm page cache); worst update "
        f"visibility {me['visible_s'] * 1000:.1f} ms",
        flush=True,
    )


SYSTEMS = {"safehold": run_safehold, "faiss": run_faiss, "pytx": run_pytx}


def worker(system: str, data: Path, args: argparse.Namespace) -> None:
    """Run one system in this (fresh) process on the saved bank; write its results."""
    rows, queries = np.load(data / "rows.npy"), np.load(data / "queries.npy")
    if args.kernel:
        kernels.use_flavour(args.kernel)
    res = SYSTEMS[system](rows, queries, args)
    found = res.pop("found")
    counts = np.array([len(f) for f in found], dtype=np.int64)
    pairs = np.array([p for f in found for p in sorted(f)], dtype=np.int64).reshape(-1, 2)
    np.save(data / f"{system}.found.npy", pairs)
    np.save(data / f"{system}.counts.npy", counts)
    (data / f"{system}.json").write_text(json.dumps(res))


def spawn(system: str, data: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run ``system`` in a child process (clean memory accounting) and read its results."""
    cmd = [sys.executable, __file__, "--worker", system, "--data", str(data)]
    cmd += ["--threads", str(args.threads), "--peer-seconds", str(args.peer_seconds)]
    cmd += ["--sample", str(args.sample)]
    if args.kernel:
        cmd += ["--kernel", args.kernel]
    if args.snapshot_dir:
        cmd += ["--snapshot-dir", args.snapshot_dir]
    subprocess.run(cmd, check=True)
    res: dict[str, Any] = json.loads((data / f"{system}.json").read_text())
    pairs = np.load(data / f"{system}.found.npy")
    bounds = np.concatenate([[0], np.cumsum(np.load(data / f"{system}.counts.npy"))])
    res["found"] = [set(map(tuple, pairs[a:b].tolist())) for a, b in itertools.pairwise(bounds)]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--datasets", nargs="+", default=["uniform", "clustered"])
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--peers", nargs="*", default=["faiss", "pytx"], choices=["faiss", "pytx"])
    ap.add_argument("--peer-queries", type=int, default=None, help="batched peer sample size")
    ap.add_argument("--peer-seconds", type=float, default=20.0, help="single-thread budget")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--snapshot-dir", default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kernel", default=None, help="Safehold kernel flavour (default: fastest)")
    ap.add_argument("--worker", choices=sorted(SYSTEMS), help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--sample", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.data, args)
        return
    if args.kernel:
        kernels.use_flavour(args.kernel)
    print(
        f"# {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; Safehold kernels: "
        f"{kernels.flavour()} (supported: {', '.join(kernels.flavours())}). q/s 1: one query "
        f"per call; q/s batch: one batch call; both on one thread, per CPU-second of that "
        f"thread. batch x{args.threads}: one batch call on {args.threads} threads, wall-clock.",
        flush=True,
    )
    for n in args.sizes:
        for dataset in args.datasets:
            rng = np.random.default_rng(args.seed)
            rows = make_bank(n, dataset, rng)
            queries = make_queries(rows, args.queries, rng)
            args.sample = args.peer_queries or (args.queries if n <= 2_000_000 else 1_000)
            with tempfile.TemporaryDirectory(dir=args.snapshot_dir) as tmp:
                data = Path(tmp)
                np.save(data / "rows.npy", rows)
                np.save(data / "queries.npy", queries)
                results = {s: spawn(s, data, args) for s in ["safehold", *args.peers]}
            want = truth(rows, queries, args.threads)
            for r in results.values():
                r["recall"] = recall(r["found"], want[: len(r["found"])])
            report(n, dataset, args.queries, results, args.threads)
            del rows, results, want
            gc.collect()


if __name__ == "__main__":
    main()
