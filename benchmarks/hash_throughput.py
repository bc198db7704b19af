"""Hashing throughput: Safehold's scan against python-threatexchange's ``pdq_from_file``.

Both run in the same process on the same files. The corpus is generated from benign sample photos
that the scikit-image wheel ships, re-encoded as JPEG at typical upload sizes (VGA to a 12 MP
phone photo), or any folder given with ``--corpus``. Printed per contender: images/s and the
ratio to python-threatexchange; plus conformance: the PDQ distance between Safehold's hash and
the reference library's full-resolution hash for each file (issue rule: within 10 bits for
quality >= 80).

Run (about a minute on 2 cores)::

    . .venv/bin/activate
    python benchmarks/hash_throughput.py --images 200
    python benchmarks/hash_throughput.py --corpus ../shared/data/reference/images
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from safehold.scanning import ScanConfig, ScanRecord, scan
from safehold.signals import HashOptions

SIZES = [(640, 480), (1280, 960), (1920, 1080), (3024, 4032)]


def make_corpus(folder: Path, count: int) -> list[Path]:
    """Write ``count`` JPEGs made from scikit-image's sample photos, cycling through SIZES."""
    from skimage import data

    names = ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "retina"]
    photos = [Image.fromarray(getattr(data, n)()).convert("RGB") for n in names]
    paths = []
    for i in range(count):
        photo = photos[i % len(photos)]
        size = SIZES[(i // len(photos)) % len(SIZES)]
        img = photo.resize(size, Image.Resampling.BICUBIC)
        if i % 3 == 1:  # vary content a little so no two files are identical
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        path = folder / f"img-{i:05d}.jpg"
        img.save(path, quality=88 + i % 8)
        paths.append(path)
    return paths


def image_files(folder: Path) -> list[Path]:
    """Every decodable image under ``folder`` (recursively), sorted."""
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            try:
                with Image.open(p) as im:
                    im.size  # noqa: B018 - header read only
                out.append(p.resolve())
            except Exception:
                continue
    return out


def run_pytx(paths: list[Path]) -> tuple[float, dict[Path, tuple[str, int]]]:
    """Seconds taken by ``pdq_from_file`` over ``paths`` (single thread), and its hashes."""
    from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file

    out = {}
    start = time.perf_counter()
    for p in paths:
        out[p] = pdq_from_file(p)
    return time.perf_counter() - start, out


def run_safehold(
    paths: list[Path], workers: int, signal_types: tuple[str, ...], preshrink: int
) -> tuple[float, dict[Path, ScanRecord]]:
    """Seconds taken by :func:`safehold.scanning.scan` (no cache, no banks), and its records."""
    records: dict[Path, ScanRecord] = {}
    config = ScanConfig(
        signal_types=signal_types,
        workers=workers,
        cache_path=None,
        hash_options=HashOptions(preshrink=preshrink),
    )
    start = time.perf_counter()
    scan(paths, config=config, banks=None, on_record=lambda r: records.__setitem__(Path(r.path), r))
    return time.perf_counter() - start, records


def distance(a: str, b: str) -> int:
    return int(bin(int(a, 16) ^ int(b, 16)).count("1"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=200, help="generated corpus size")
    parser.add_argument("--corpus", type=Path, help="use the images in this folder instead")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        paths = image_files(args.corpus) if args.corpus else make_corpus(Path(tmp), args.images)
        megapixels = sum(np.prod(Image.open(p).size) for p in paths) / 1e6
        print(f"corpus: {len(paths)} images, {megapixels:.0f} MP, cores: {os.cpu_count()}")

        for p in paths:  # warm the page cache so no contender pays for the first read
            p.read_bytes()
        run_safehold(paths[:8], args.workers, ("pdq",), 512)  # warm imports and the pool path
        pytx_s, pytx = run_pytx(paths)
        rows = [("python-threatexchange pdq_from_file (1 thread)", pytx_s)]
        contenders = [
            (f"safehold scan pdq ({args.workers} workers)", args.workers, ("pdq",), 512),
            (
                f"safehold scan pdq+md5+sha256 ({args.workers} workers)",
                args.workers,
                ("pdq", "md5", "sha256"),
                512,
            ),
            ("safehold scan pdq (1 worker)", 1, ("pdq",), 512),
            (
                f"safehold scan pdq, no pre-shrink ({args.workers} workers)",
                args.workers,
                ("pdq",),
                0,
            ),
        ]
        conformance: list[int] = []
        for label, workers, types, preshrink in contenders:
            seconds, records = run_safehold(paths, workers, types, preshrink)
            rows.append((label, seconds))
            if preshrink and types == ("pdq",) and workers == args.workers:
                for p, rec in records.items():
                    sig = rec.signals.get("pdq")
                    ref_hash, ref_quality = pytx[p]
                    if sig is not None and ref_quality >= 80:
                        conformance.append(distance(sig.value, ref_hash))

    print(f"\n{'contender':58s} {'images/s':>10s} {'ratio vs pytx':>14s}")
    for label, seconds in rows:
        rate = len(paths) / seconds
        print(f"{label:58s} {rate:10.1f} {pytx_s / seconds:13.2f}x")
    if conformance:
        arr = np.array(conformance)
        print(
            f"\nconformance (quality >= 80, {arr.size} files): max distance {arr.max()} bits, "
            f"median {np.median(arr):.0f}, within 10 bits: {np.mean(arr <= 10):.1%}"
        )


if __name__ == "__main__":
    main()
