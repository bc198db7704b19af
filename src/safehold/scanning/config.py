"""What one scan run does: signal types, hashing options, bounds, thresholds, cache, workers.

:class:`ScanConfig` is the single value the CLI, the service and the benchmark build to call
:func:`safehold.scanning.scan`; :meth:`ScanConfig.from_settings` fills it from
:class:`safehold.settings.Settings` so every caller gets the same defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from safehold.errors import InvalidInputError
from safehold.settings import Settings
from safehold.signals.base import HashOptions

#: Generous default address-space bound per worker process (bytes). Decoding a 100-megapixel
#: photo (the ``max_image_pixels`` default) needs about 1.2 GB; 4 GiB leaves room for PyAV.
DEFAULT_MEMORY_LIMIT_BYTES = 4 * 1024**3

#: Smallest address-space bound a worker may get. Measured (Linux x86-64, Python 3.11, numpy
#: 2.4, Pillow 13, PyAV 18): an idle worker with its imports maps about 300 MiB; hashing the
#: shared reference photos and SD/HD videos peaks at about 560 MiB; under 640 MiB videos start
#: to fail (FFmpeg cannot create its decoding threads), under 512 MiB small photos do too.
#: 1 GiB leaves room for ordinary media; big photos need the default.
MIN_MEMORY_LIMIT_BYTES = 1024**3
#: Largest worker memory bound that fits ``setrlimit`` (a C ``rlim_t``) when the hard
#: ``RLIMIT_AS`` is unlimited: 4 EiB, far above any machine's address space.
MAX_MEMORY_LIMIT_BYTES = 2**62

#: Most worker processes per CPU core: hashing is CPU-bound, so more only costs memory
#: (each worker maps about 300 MiB) and start-up time; 4 leaves room for slow storage.
MAX_WORKERS_PER_CPU = 4

#: Smallest ``preshrink`` that is not 0 (off): PDQ hashes a 64x64 downsample of the image
#: (Meta's PDQ reference, ``pdqhash.cpp``), so shrinking below 64 pixels destroys the hash.
MIN_PRESHRINK = 64

#: Name of the match index snapshot folder inside ``Settings.data_dir``.
INDEX_DIR_NAME = "index"
#: Name of the scan cache file inside ``Settings.data_dir``.
CACHE_FILE_NAME = "scan-cache.sqlite"


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """Options of one scan run.

    Attributes:
        signal_types: signal type names to compute; empty = every built-in signal type
            (``safehold.signals``); plug-in types must be named explicitly.
        hash_options: options passed to each signal type's constructor.
        workers: worker processes (>= 1); 0 = ``os.cpu_count()``.
        file_timeout_seconds: wall-clock bound per file; a worker past it is killed and
            replaced, and the file gets a ``timeout`` error.
        memory_limit_bytes: ``RLIMIT_AS`` bound per worker (None = unlimited); a file that
            exhausts it gets a ``too_large`` error.
        max_file_bytes: files larger than this are refused (``too_large``) before reading.
        thresholds: per-run distance thresholds by signal type; they win over bank thresholds,
            which win over ``default_thresholds``.
        default_thresholds: per signal type defaults (from settings); types absent here use
            the signal type class's ``default_threshold``.
        banks: restrict matching to these bank names; empty = every enabled bank.
        pdq_min_quality: PDQ signals below this quality (0-100) are not matched.
        index_options: keyword options per signal type for its ``build_index`` (the PDQ
            quality floor, the vPDQ match percentages), from settings.
        cache_path: SQLite scan cache file; None disables the cache.
        index_dir: folder of match index snapshots (``<data_dir>/index``, see
            :mod:`safehold.scanning.snapshots`); None builds every index in memory per run.
        cache_commit_every: cache rows per commit (a killed scan loses at most this many).
        plugin_modules: modules imported in the parent and every worker before hashing, to
            register extra signal types.
        settings: settings passed to ``detect_content`` (``max_file_bytes`` etc.).
        output_paths: files this run writes (JSON Lines, HTML report): never scanned, and
            the scan refuses to run when one of them is an existing file among the files to
            scan that an earlier scan did not write (see :mod:`safehold.scanning.outputs`).

    Raises:
        InvalidInputError: ``workers`` outside ``0..max_workers()``, ``memory_limit_bytes``
            under :data:`MIN_MEMORY_LIMIT_BYTES`, or ``hash_options.preshrink`` neither 0 nor
            at least :data:`MIN_PRESHRINK`.
    """

    signal_types: tuple[str, ...] = ()
    hash_options: HashOptions = field(default_factory=HashOptions)
    workers: int = 0
    file_timeout_seconds: float = 120.0
    memory_limit_bytes: int | None = DEFAULT_MEMORY_LIMIT_BYTES
    max_file_bytes: int = 4 * 1024**3
    thresholds: Mapping[str, int] = field(default_factory=dict)
    default_thresholds: Mapping[str, int] = field(default_factory=dict)
    banks: tuple[str, ...] = ()
    pdq_min_quality: int = 50
    index_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    cache_path: Path | None = None
    index_dir: Path | None = None
    cache_commit_every: int = 200
    plugin_modules: tuple[str, ...] = ()
    settings: Settings | None = None
    output_paths: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        limit = max_workers()
        if not 0 <= self.workers <= limit:
            raise InvalidInputError(
                f"workers must be between 1 and {limit} ({MAX_WORKERS_PER_CPU} per CPU core); "
                f"got {self.workers}"
            )
        if self.memory_limit_bytes is not None and self.memory_limit_bytes < (
            MIN_MEMORY_LIMIT_BYTES
        ):
            raise InvalidInputError(
                f"the worker memory limit must be at least {MIN_MEMORY_LIMIT_BYTES // 2**20} MiB "
                f"(a worker needs about 300 MiB before it opens a file); "
                f"got {self.memory_limit_bytes // 2**20} MiB"
            )
        if self.memory_limit_bytes is not None and self.memory_limit_bytes > (
            max_memory_limit_bytes()
        ):
            raise InvalidInputError(
                f"the worker memory limit must be at most {max_memory_limit_bytes() // 2**20} "
                f"MiB (this machine's RLIMIT_AS bound); got {self.memory_limit_bytes // 2**20} MiB"
            )
        check_preshrink(self.hash_options.preshrink)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, use_cache: bool = True, **overrides: Any
    ) -> ScanConfig:
        """Build a config from ``settings``; keyword ``overrides`` replace single fields.

        ``hash_options`` is built from the settings unless overridden; ``dihedral``,
        ``unletterbox`` and ``preshrink`` may be passed as overrides and go into it.
        """
        option_fields = {
            k: overrides.pop(k) for k in ("dihedral", "unletterbox", "preshrink") if k in overrides
        }
        hash_options = overrides.pop(
            "hash_options",
            HashOptions(
                vpdq_seconds_per_frame=settings.vpdq_seconds_per_frame,
                max_image_pixels=settings.max_image_pixels,
                max_video_seconds=settings.max_video_seconds,
                min_variant_quality=settings.pdq_min_quality,
            ),
        )
        if option_fields:
            hash_options = replace(hash_options, **option_fields)
        config = cls(
            hash_options=hash_options,
            file_timeout_seconds=settings.file_timeout_seconds,
            max_file_bytes=settings.max_file_bytes,
            default_thresholds={
                "pdq": settings.pdq_threshold,
                "vpdq": settings.vpdq_frame_threshold,
            },
            pdq_min_quality=settings.pdq_min_quality,
            index_options={
                "pdq": {"min_quality": settings.pdq_min_quality},
                "vpdq": {
                    "query_match_percent": settings.vpdq_query_match_percent,
                    "bank_match_percent": settings.vpdq_bank_match_percent,
                },
            },
            cache_path=settings.data_dir / CACHE_FILE_NAME if use_cache else None,
            index_dir=settings.data_dir / INDEX_DIR_NAME,
            settings=settings,
        )
        return replace(config, **overrides)

    def worker_count(self) -> int:
        """Return the most worker processes to run (>= 1): ``workers``, else one per core."""
        return max(1, self.workers or os.cpu_count() or 1)


def max_workers() -> int:
    """The most worker processes a scan may ask for: :data:`MAX_WORKERS_PER_CPU` per core."""
    return MAX_WORKERS_PER_CPU * (os.cpu_count() or 1)


def max_memory_limit_bytes() -> int:
    """The largest ``memory_limit_bytes`` a worker can be given, in bytes.

    The hard ``RLIMIT_AS`` of this process when it is finite (a worker cannot raise its soft
    limit above it), else :data:`MAX_MEMORY_LIMIT_BYTES`.
    """
    try:
        import resource
    except ImportError:  # not POSIX: no RLIMIT_AS
        return MAX_MEMORY_LIMIT_BYTES
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard == resource.RLIM_INFINITY or hard < 0:
        return MAX_MEMORY_LIMIT_BYTES
    return min(hard, MAX_MEMORY_LIMIT_BYTES)


def check_preshrink(preshrink: int) -> None:
    """Refuse a ``preshrink`` that is neither 0 (off) nor at least :data:`MIN_PRESHRINK`.

    Raises:
        InvalidInputError: e.g. 1, which would shrink every photo to one pixel and give a
            zero PDQ hash of quality 0.
    """
    if preshrink != 0 and preshrink < MIN_PRESHRINK:
        raise InvalidInputError(
            f"preshrink must be 0 (off) or at least {MIN_PRESHRINK} pixels (PDQ hashes a "
            f"{MIN_PRESHRINK}x{MIN_PRESHRINK} downsample); got {preshrink}"
        )
