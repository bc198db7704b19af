"""Banks: named hash lists with their source, categories and per-signal-type thresholds.

``models`` holds the domain types shared with scanning and the CLI; ``service`` is the service
layer over ``safehold.storage``; ``formats`` reads and writes bank files.
"""
