"""Scanning, Safehold's main job: files and folders -> signals -> matches -> one record per file.

Layout: ``walk`` (deterministic file list), ``worker`` and ``pool`` (hashing in worker processes
with time and memory bounds), ``cache`` (resumable runs), ``matcher`` (per-bank thresholds),
``records`` (the JSON Lines record), ``summary`` (totals and exit status), ``report`` (HTML),
``pipeline`` (:func:`scan`, tying them together), ``demo_media`` (the benign demo set).

Public API::

    summary = scan(paths, config=ScanConfig.from_settings(settings), banks=service,
                   on_record=print_record)
"""

from safehold.scanning.config import ScanConfig
from safehold.scanning.pipeline import scan
from safehold.scanning.records import FileError, MatchInfo, ScanRecord
from safehold.scanning.summary import ScanSummary

__all__ = ["FileError", "MatchInfo", "ScanConfig", "ScanRecord", "ScanSummary", "scan"]
