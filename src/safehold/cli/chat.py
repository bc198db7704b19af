"""``safehold chat``: score conversations for grooming risk, evaluate, generate data, train.

Files are JSON Lines (Safehold's format) or PAN-2012 XML (sniffed). ``evaluate`` and
``train`` also take built-in data sets: ``synthetic:train|dev|eval|holdout|holdout2-5``
(generated, see ``docs/grooming.md``) and ``chatterbot:train|dev|eval`` (benign chats from the
``chatterbot-corpus`` package). Scores are for human review, never automatic action.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from safehold.cli.common import display_text, handle_errors, load_settings, make_console
from safehold.errors import InvalidInputError

if TYPE_CHECKING:
    from safehold.grooming.model import Conversation

app = typer.Typer(
    help="Score conversations for grooming risk (for human review).", no_args_is_help=True
)

DETECTOR_HELP = (
    "Detector: auto (embedding where safehold[embeddings] is installed, else pattern), pattern "
    "or embedding (default from SAFEHOLD_GROOMING_DETECTOR, itself auto)."
)
MODEL_HELP = "Trained classifier file (from `safehold chat train`)."
PREDATORS_HELP = "PAN-2012 predator id list (labels a PAN XML file)."


def _load(sources: list[str], predators: Path | None) -> list[Conversation]:
    from safehold.grooming.benign import chatterbot_conversations
    from safehold.grooming.readers import read_conversations
    from safehold.grooming.synthetic import generate

    out: list[Conversation] = []
    for source in sources:
        kind, _, split = source.partition(":")
        if kind == "synthetic" and split:
            out.extend(generate(split))
        elif kind == "chatterbot" and split:
            out.extend(chatterbot_conversations(split))
        else:
            out.extend(read_conversations(Path(source), predators))
    return out


@app.command("score")
def score(
    file: Path = typer.Argument(..., help="JSON Lines or PAN-2012 XML file of conversations."),
    output_format: str = typer.Option("table", "--format", help="table or json (JSON Lines)."),
    detector: str | None = typer.Option(None, help=DETECTOR_HELP),
    model: Path | None = typer.Option(None, help=MODEL_HELP),
    predators: Path | None = typer.Option(None, help=PREDATORS_HELP),
) -> None:
    """Score every conversation in FILE: risk 0-1, level, action, indicators and reasons."""
    from safehold.grooming.config import GroomingConfig
    from safehold.grooming.readers import read_conversations
    from safehold.grooming.scoring import score_conversation

    with handle_errors():
        if output_format not in ("table", "json"):
            raise InvalidInputError("--format must be table or json")
        config = GroomingConfig.from_settings(load_settings(), detector=detector, model_path=model)
        conversations = read_conversations(file, predators)
        risks = [
            score_conversation(
                c, config.detector, thresholds=config.thresholds, classifier=config.classifier
            )
            for c in conversations
        ]
    console = make_console()
    if output_format == "json":
        for risk in risks:
            console.print(json.dumps(risk.to_dict()), markup=False, highlight=False)
        return
    table = Table("conversation", "score", "action", "sender", "indicators", "why")
    for risk in risks:
        names = ", ".join(
            dict.fromkeys(f.indicator for f in risk.indicators if f.sender == risk.sender)
        )
        table.add_row(
            display_text(risk.conversation_id),
            f"{risk.score:.2f}",
            risk.action,
            display_text(risk.sender or "-"),
            names or "-",
            display_text(risk.reasons[-1] if risk.reasons else "-"),
        )
    console.print(table)


@app.command("evaluate")
def evaluate(
    data: list[str] = typer.Argument(
        ...,
        help="Files, or synthetic:train|dev|eval|holdout|holdout2-5, chatterbot:train|dev|eval.",
    ),
    detector: str | None = typer.Option(None, help=DETECTOR_HELP),
    model: Path | None = typer.Option(None, help=MODEL_HELP),
    predators: Path | None = typer.Option(None, help=PREDATORS_HELP),
    skepticism: int | None = typer.Option(
        None,
        min=1,
        help="Messages at review level before a warning (SAFEHOLD_GROOMING_SKEPTICISM).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Measure precision, recall, F1, F0.5, false positives and warning latency.

    Per conversation and per author, plus latency-weighted F1 and the median share of a
    grooming conversation read before its warning (docs/grooming.md).
    """
    from safehold.grooming.config import GroomingConfig
    from safehold.grooming.evaluate import evaluate as run

    with handle_errors():
        config = GroomingConfig.from_settings(
            load_settings(), detector=detector, model_path=model, skepticism=skepticism
        )
        conversations = _load(data, predators)
        report = run(
            conversations,
            config.detector,
            thresholds=config.thresholds,
            skepticism=config.skepticism,
            classifier=config.classifier,
        )
    console = make_console()
    if as_json:
        console.print(json.dumps(report.to_dict(), indent=1), markup=False, highlight=False)
        return
    table = Table("measure", "value")
    rows = [
        (
            "conversations (grooming / other)",
            f"{report.conversations} ({report.grooming} / {report.negatives})",
        ),
        ("per conversation P / R / F1 / F0.5", _prf(report.per_conversation)),
        ("per author P / R / F1 / F0.5", _prf(report.per_author)),
        ("false-positive rate", f"{report.false_positive_rate:.2%}"),
        ("latency-weighted F1 (speed)", f"{report.latency_f1:.3f} ({report.speed:.3f})"),
        ("median share read at warning", _share(report.median_share_read)),
        ("  counting misses as 100 %", _share(report.median_share_read_all)),
    ]
    rows += [
        (f"  false positives: {f}", f"{v:.2%}")
        for f, v in report.false_positive_rate_by_family.items()
    ]
    rows += [(f"  recall: {f}", f"{v:.2%}") for f, v in report.recall_by_family.items()]
    for name, value in rows:
        table.add_row(display_text(name), value)
    console.print(table)


def _prf(s: object) -> str:
    return " / ".join(f"{getattr(s, k):.3f}" for k in ("precision", "recall", "f1", "f05"))


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


@app.command("generate")
def generate(
    split: str = typer.Option(
        "eval", help="train, dev, eval, holdout or holdout2-5 (fixed seeds)."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="JSON Lines file to write."),
    grooming: int | None = typer.Option(None, min=0, help="Grooming conversations."),
    negative: int | None = typer.Option(None, min=0, help="Hard-negative conversations."),
) -> None:
    """Write a synthetic, non-explicit split as JSON Lines (labelled)."""
    from safehold.grooming.readers import to_json
    from safehold.grooming.synthetic import DEFAULT_SIZES, SyntheticOptions
    from safehold.grooming.synthetic import generate as make
    from safehold.output_files import write_replacing

    with handle_errors():
        sizes = DEFAULT_SIZES.get(split, (0, 0))
        options = SyntheticOptions(
            grooming if grooming is not None else sizes[0],
            negative if negative is not None else sizes[1],
        )
        conversations = make(split, options)
        text = "".join(json.dumps(to_json(c)) + "\n" for c in conversations)
        write_replacing(output, text.encode())
    typer.echo(
        f"wrote {len(conversations)} conversations to {display_text(str(output), markup=False)}"
    )


@app.command("train")
def train(
    data: list[str] = typer.Argument(..., help="Labelled files, or synthetic:/chatterbot: sets."),
    output: Path = typer.Option(..., "--output", "-o", help="Model file to write (JSON)."),
    detector: str | None = typer.Option(None, help=DETECTOR_HELP),
    predators: Path | None = typer.Option(None, help=PREDATORS_HELP),
) -> None:
    """Train a classifier (n-grams + indicators) on labelled conversations.

    Needs the grooming extra (pip install 'safehold\\[grooming]').
    """
    from safehold.grooming.classifier import GroomingClassifier
    from safehold.grooming.config import detector_from_settings

    with handle_errors():
        settings = load_settings()
        conversations = _load(data, predators)
        found = detector_from_settings(settings, detector)
        model = GroomingClassifier.train(conversations, found)
        model.save(output)
    typer.echo(
        f"trained on {model.document['trained_on']['senders']} senders; "
        f"wrote {display_text(str(output), markup=False)} ({model.label})"
    )
