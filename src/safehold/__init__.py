"""Safehold: find, stop and report known child sexual abuse material.

The package is laid out by area (see ``docs/architecture.md``): ``signals`` turn content into
hashes, ``index`` searches them, ``banks`` and ``storage`` keep hash lists, ``scanning`` runs the
main job, ``cli`` is the command line.
"""

__version__ = "0.1.0"
