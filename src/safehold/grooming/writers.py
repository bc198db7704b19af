"""Leave-one-writer-out: how the detectors do on wording written by someone else.

Each seen holdout split was written by its own author in its own template file
(``data/synthetic_holdout2.toml`` to ``data/synthetic_holdout7.toml``), with its own phrasings,
slots and families; ``train``, ``dev``, ``eval`` and ``holdout`` share ``data/synthetic.toml``.
In-split figures (the models fitted on a writer's lines, scored on that writer's chats) were
about 0.95-0.999 F0.5 while the blind holdout3 run gave 0.67-0.72 (docs/grooming.md, round 5),
so round 6 chooses every change by this estimate instead: for a held writer ``H``, the line
model (:mod:`.indicator_fit`) and both risk models (:mod:`.calibration`, the embedding one on
out-of-fold hits, :mod:`.out_of_fold`) are fitted by the packaged recipes on the seen splits
but ``H``, and ``H``'s conversations are scored with them. This is leave-one-group-out
cross-validation with the writer as the group (Roberts et al. 2017, "Cross-validation
strategies for data with temporal, spatial, hierarchical, or phylogenetic structure",
Ecography 40).

Only :data:`~.calibration.SEEN_SPLITS` are read; a blind split registered later is refused.

Run ``python -m safehold.grooming.writers [--baseline] [--held holdout5,holdout4]``:
one JSON line per held writer and detector (``--baseline``: the packaged models as they are,
which is only a blind figure for models fitted without the held writer, as rounds 1-5's were).
About 15 to 20 minutes on two shared cores for the six writers. Needs
``safehold[embeddings,grooming]``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from safehold.grooming.calibration import (
    BASE_SPLITS,
    RISK_SPLITS,
    SEEN_SPLITS,
    fit_risk_model,
    training_conversations,
)
from safehold.grooming.detector import Detector, get_detector
from safehold.grooming.evaluate import EvaluationReport, evaluate
from safehold.grooming.indicator_model import IndicatorModel
from safehold.grooming.risk import RiskModel

#: Writers with their own template file, held out in turn (round 6; ``holdout4`` since
#: round 7, ``holdout5`` since round 8, ``holdout6`` since round 9, ``holdout7`` since
#: round 10, ``holdout8`` since round 11, ``holdout9`` since round 12,
#: ``holdout10`` since round 13).
HELD_WRITERS = (
    "holdout10",
    "holdout9",
    "holdout8",
    "holdout7",
    "holdout6",
    "holdout5",
    "holdout4",
    "holdout3",
    "holdout2",
)


@dataclass(frozen=True)
class FittedModels:
    """The models fitted without one writer.

    Attributes:
        splits: the template splits the line model read.
        line_model: the learned indicator model (threshold chosen out of fold).
        risk: risk model per detector name (``pattern``, ``embedding``).
    """

    splits: tuple[str, ...]
    line_model: IndicatorModel
    risk: dict[str, RiskModel]


def fit_models(embedding: Detector, pattern: Detector, held: str) -> FittedModels:
    """Fit the line model and both risk models as the packaged ones are fitted (the recipes
    of :mod:`.indicator_fit` and :mod:`.calibration`), without the splits of ``held``.

    Args:
        embedding: an :class:`~.embedding.EmbeddingDetector`; its ``indicator_model`` is
            replaced by the one fitted here.
        pattern: the pattern detector.
        held: the held writer's split (one of :data:`HELD_WRITERS`).

    Raises:
        ValueError: ``held`` is not one of :data:`HELD_WRITERS`.
        TypeError: ``embedding`` is not the embedding detector.
    """
    from safehold.grooming.embedding import EmbeddingDetector
    from safehold.grooming.indicator_fit import fit_line_model
    from safehold.grooming.out_of_fold import replay_out_of_fold

    if held not in HELD_WRITERS:
        raise ValueError(f"held writer must be one of {', '.join(HELD_WRITERS)}")
    if not isinstance(embedding, EmbeddingDetector):
        raise TypeError("fit_models needs the embedding detector")
    splits = tuple(s for s in SEEN_SPLITS if s != held)
    line_model, folds = fit_line_model(embedding, splits)
    embedding.indicator_model = line_model
    risk = {}
    for name in ("embedding", "pattern"):
        chosen = tuple(s for s in RISK_SPLITS.get(name, BASE_SPLITS) if s != held)
        conversations = training_conversations(chosen)
        fitting = (
            replay_out_of_fold(embedding, conversations, folds) if name == "embedding" else pattern
        )
        risk[name] = fit_risk_model(conversations, fitting)
    return FittedModels(splits, line_model, risk)


def summary(report: EvaluationReport) -> dict[str, Any]:
    """The figures round 6 compares: P / R / F0.5, false positives (all and by family, non-zero
    only), recall by family, median share read (flagged; all counting misses as 100 %)."""
    pc = report.per_conversation
    return {
        "precision": pc.precision,
        "recall": pc.recall,
        "f05": pc.f05,
        "false_positive_rate": report.false_positive_rate,
        "fp_by_family": {f: v for f, v in report.false_positive_rate_by_family.items() if v > 0},
        "recall_by_family": report.recall_by_family,
        "median_read": report.median_share_read,
        "median_read_all": report.median_share_read_all,
    }


def leave_one_writer_out(
    held: str, embedding: Detector, pattern: Detector, *, baseline: bool = False
) -> list[dict[str, Any]]:
    """Fit on every seen split but ``held`` (:func:`fit_models`) and score ``held``'s
    conversations with both detectors (skepticism and thresholds at their defaults).

    Args:
        baseline: score with the packaged models instead (before round 6 they were fitted on
            ``train`` and chosen on ``dev``, so blind to both writers).

    Returns:
        One dict per detector: ``held``, ``detector``, the line model's threshold and
        ``trained_on`` (embedding) and :func:`summary`.

    Raises:
        ValueError: ``held`` is not one of :data:`HELD_WRITERS`.
    """
    from safehold.grooming.embedding import EmbeddingDetector
    from safehold.grooming.indicator_model import load_indicator_model
    from safehold.grooming.risk import load_risk_model
    from safehold.grooming.synthetic import generate

    if held not in HELD_WRITERS:
        raise ValueError(f"held writer must be one of {', '.join(HELD_WRITERS)}")
    if not isinstance(embedding, EmbeddingDetector):
        raise TypeError("leave_one_writer_out needs the embedding detector")
    if baseline:
        embedding.indicator_model = load_indicator_model()
        risk = {name: load_risk_model(name) for name in ("pattern", "embedding")}
    else:
        fitted = fit_models(embedding, pattern, held)
        embedding.indicator_model = fitted.line_model
        risk = fitted.risk
    line = embedding.indicator_model
    assert line is not None
    conversations = generate(held)
    rows = []
    for name, detector in (("pattern", pattern), ("embedding", embedding)):
        report = evaluate(conversations, detector, model=risk[name])
        extra = (
            {"threshold": line.threshold, "trained_on": line.trained_on}
            if name == "embedding"
            else {}
        )
        rows.append({"held": held, "detector": name, **extra, **summary(report)})
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the leave-one-writer-out rows (``--baseline``: the packaged models; ``--held
    a,b``: these writers only)."""
    args = argv if argv is not None else sys.argv[1:]
    held: tuple[str, ...] = HELD_WRITERS
    if "--held" in args:
        held = tuple(args[args.index("--held") + 1].split(","))
    embedding = get_detector("embedding", cache_size=1_000_000)
    pattern = get_detector("pattern")
    for writer in held:
        for row in leave_one_writer_out(writer, embedding, pattern, baseline="--baseline" in args):
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
