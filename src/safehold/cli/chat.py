"""``safehold chat``: score conversations for grooming risk, evaluate, generate data, train.

Files are JSON Lines (Safehold's format) or PAN-2012 XML (sniffed). ``evaluate`` and
``train`` also take built-in data sets: ``synthetic:SPLIT`` (generated; the splits of
``synthetic.SPLITS``, see ``docs/grooming.md``) and ``chatterbot:train|dev|eval`` (benign chats
from the ``chatterbot-corpus`` package). Scores are for human review, never automatic action.

Bad input loses nothing: every good conversation of a file is read, and each bad line (or bad
PAN ``<conversation>``) is reported as ``error: line N: ...`` on stderr (and, for ``score
--format json``, as an error object in its place in the output). The exit status is then 1;
2 when nothing could be read at all, or for a usage or fatal error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from safehold.cli.common import display_text, handle_errors, load_settings, make_console
from safehold.errors import FormatError, InvalidInputError
from safehold.grooming.synthetic import SPLITS

if TYPE_CHECKING:
    from safehold.grooming.config import GroomingConfig
    from safehold.grooming.model import Conversation
    from safehold.grooming.risk import ConversationRisk

app = typer.Typer(
    help="Score conversations for grooming risk (for human review).", no_args_is_help=True
)

#: Exit status when some lines or conversations of the input were bad (the rest were read).
EXIT_PARTIAL = 1
#: Exit status when nothing could be read, or for usage and fatal errors.
EXIT_ERROR = 2

DETECTOR_HELP = (
    "Detector: auto (embedding where safehold\\[embeddings] is installed, else pattern), "
    "pattern or embedding (default from SAFEHOLD_GROOMING_DETECTOR, itself auto)."
)
MODEL_HELP = "Trained classifier file (from `safehold chat train`)."
PREDATORS_HELP = "PAN-2012 predator id list (labels a PAN XML file)."
SKEPTICISM_HELP = (
    "Messages at review level before an early warning (>= 1; default SAFEHOLD_GROOMING_SKEPTICISM)."
)
DATA_HELP = f"Files, or synthetic:SPLIT (one of {', '.join(SPLITS)}), chatterbot:train|dev|eval."


def _config(detector: str | None, model: Path | None, skepticism: int | None) -> GroomingConfig:
    from safehold.grooming.config import GroomingConfig, check_detector_name

    settings = load_settings()
    check_detector_name(detector or settings.grooming_detector)
    config = GroomingConfig.from_settings(
        settings, detector=detector, model_path=model, skepticism=skepticism
    )
    for warning in config.warnings:
        typer.echo(f"warning: {warning}", err=True)
    return config


def _read(
    sources: list[str], predators: Path | None
) -> tuple[list[Conversation | FormatError], list[Conversation]]:
    """Every item of every source (a conversation, or the error of a bad line), in order;
    errors and warnings are printed to stderr as they are found. With several sources a bad
    line's message starts with its file."""
    from safehold.grooming.benign import chatterbot_conversations
    from safehold.grooming.readers import read_items
    from safehold.grooming.synthetic import generate

    items: list[Conversation | FormatError] = []
    for source in sources:
        kind, _, split = source.partition(":")
        if kind == "synthetic" and split:
            items.extend(generate(split))
        elif kind == "chatterbot" and split:
            items.extend(chatterbot_conversations(split))
        else:
            reading = read_items(Path(source), predators)
            for warning in reading.warnings:
                typer.echo(f"warning: {warning}", err=True)
            for error in reading.errors:
                if len(sources) > 1:
                    error.message = f"{source}: {error.message}"
                typer.echo(f"error: {error.message}", err=True)
            items.extend(reading.items)
    conversations = [item for item in items if not isinstance(item, FormatError)]
    return items, conversations


def _exit_status(items: list[Conversation | FormatError], conversations: list[Any]) -> None:
    """Exit 1 when some items were bad, 2 when every one was."""
    if len(conversations) < len(items):
        raise typer.Exit(EXIT_PARTIAL if conversations else EXIT_ERROR)


def _error_object(error: FormatError) -> dict[str, Any]:
    out: dict[str, Any] = {"error": error.to_dict()}
    if error.line is not None:
        out["line"] = error.line
    return out


@app.command("score")
def score(
    file: Path = typer.Argument(..., help="JSON Lines or PAN-2012 XML file of conversations."),
    output_format: str = typer.Option("table", "--format", help="table or json (JSON Lines)."),
    detector: str | None = typer.Option(None, help=DETECTOR_HELP),
    model: Path | None = typer.Option(None, help=MODEL_HELP),
    predators: Path | None = typer.Option(None, help=PREDATORS_HELP),
    skepticism: int | None = typer.Option(
        None,
        min=1,
        help=SKEPTICISM_HELP + " Given, each conversation is also replayed as a live feed "
        "and its first early warning is reported.",
    ),
) -> None:
    """Score every conversation in FILE: risk 0-1, level, action, indicators and reasons.

    A bad line is reported (error: line N: ...) and the others are still scored; the exit
    status is then 1 (2 when no line could be read).
    """
    with handle_errors():
        if output_format not in ("table", "json"):
            raise InvalidInputError("--format must be table or json")
        config = _config(detector, model, skepticism)
        items, conversations = _read([str(file)], predators)
        results = _score_all(conversations, config, warn=skepticism is not None)
    console = make_console()
    scored = iter(results)
    if output_format == "json":
        for item in items:
            if isinstance(item, FormatError):
                row = _error_object(item)
            else:
                risk, warning = next(scored)
                row = risk.to_dict()
                if skepticism is not None:
                    row["first_warning"] = warning
            console.print(json.dumps(row), markup=False, highlight=False)
        _exit_status(items, conversations)
        return
    if items and not conversations:
        raise typer.Exit(EXIT_ERROR)  # every line was bad (reported above): no empty table
    columns = ["conversation", "score", "action", "sender", "indicators", "why"]
    if skepticism is not None:
        columns.append("warned at")
    table = Table(*columns)
    for risk, warning in results:
        names = ", ".join(
            dict.fromkeys(f.indicator for f in risk.indicators if f.sender == risk.sender)
        )
        cells = [
            display_text(risk.conversation_id),
            f"{risk.score:.2f}",
            risk.action,
            display_text(risk.sender or "-"),
            names or "-",
            # the most informative reason: the behaviour chain comes first, context after it
            display_text(risk.reasons[0] if risk.reasons else "-"),
        ]
        if skepticism is not None:
            cells.append(
                "-"
                if warning is None
                else display_text(f"{warning['message_id']} ({warning['action']})")
            )
        table.add_row(*cells)
    console.print(table)
    _exit_status(items, conversations)


def _score_all(
    conversations: list[Conversation], config: GroomingConfig, *, warn: bool
) -> list[tuple[ConversationRisk, dict[str, Any] | None]]:
    """Each conversation's risk; with ``warn``, also its first early warning (message id,
    0-based index, action, score; ``None`` when none) from a monitor fed the same hits."""
    from safehold.grooming.evaluate import BatchDetector
    from safehold.grooming.scoring import ConversationMonitor, score_conversation

    out: list[tuple[ConversationRisk, dict[str, Any] | None]] = []
    for conv in conversations:
        texts = [m.text for m in conv.messages]
        detector = BatchDetector(config.detector, texts) if warn else config.detector
        risk = score_conversation(
            conv, detector, thresholds=config.thresholds, classifier=config.classifier
        )
        first: dict[str, Any] | None = None
        if warn:
            monitor = ConversationMonitor(
                conv.id,
                detector=detector,
                participants=conv.participants,
                thresholds=config.thresholds,
                skepticism=config.skepticism,
                classifier=config.classifier,
            )
            monitor.append(conv.messages)
            if monitor.warnings:
                w = monitor.warnings[0]
                first = {
                    "message_id": w.message_id,
                    "message_index": w.message_index,
                    "action": w.action,
                    "score": w.score,
                }
        out.append((risk, first))
    return out


@app.command("evaluate")
def evaluate(
    data: list[str] = typer.Argument(..., help=DATA_HELP),
    detector: str | None = typer.Option(None, help=DETECTOR_HELP),
    model: Path | None = typer.Option(None, help=MODEL_HELP),
    predators: Path | None = typer.Option(None, help=PREDATORS_HELP),
    skepticism: int | None = typer.Option(None, min=1, help=SKEPTICISM_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Measure precision, recall, F1, F0.5, false positives and warning latency.

    Per conversation and per author, plus latency-weighted F1 and the median share of a
    grooming conversation read before its warning (docs/grooming.md). Bad lines are reported
    and the rest evaluated (exit status 1); no labelled conversation is an error (2).
    """
    from safehold.grooming.evaluate import evaluate as run

    with handle_errors():
        config = _config(detector, model, skepticism)
        items, conversations = _read(data, predators)
        if not conversations and items:
            raise typer.Exit(EXIT_ERROR)
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
        _exit_status(items, conversations)
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
        (f"  false positives: {_family(f)}", f"{v:.2%}")
        for f, v in report.false_positive_rate_by_family.items()
    ]
    rows += [(f"  recall: {_family(f)}", f"{v:.2%}") for f, v in report.recall_by_family.items()]
    for name, value in rows:
        table.add_row(display_text(name), value)
    console.print(table)
    _exit_status(items, conversations)


def _family(name: str) -> str:
    return name or "(no family)"


def _prf(s: object) -> str:
    return " / ".join(f"{getattr(s, k):.3f}" for k in ("precision", "recall", "f1", "f05"))


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _check_output_folder(path: Path) -> None:
    """Name the missing folder of an output file (not the temporary file written beside it).

    Raises:
        InvalidInputError: the folder ``path`` would go in does not exist or is not a folder.
    """
    folder = path.parent
    if not folder.exists():
        raise InvalidInputError(
            f"cannot write {display_text(str(path), markup=False)}: folder "
            f"{display_text(str(folder), markup=False)} does not exist"
        )
    if not folder.is_dir():
        raise InvalidInputError(
            f"cannot write {display_text(str(path), markup=False)}: "
            f"{display_text(str(folder), markup=False)} is not a folder"
        )


@app.command("generate")
def generate(
    split: str = typer.Option(
        "eval", help=f"{', '.join(SPLITS[:-1])} or {SPLITS[-1]} (fixed seeds)."
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
        _check_output_folder(output)
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

    Needs the grooming extra (pip install 'safehold\\[grooming]'). Bad lines are reported and
    the rest trained on (exit status 1).
    """
    from safehold.grooming.classifier import GroomingClassifier
    from safehold.grooming.config import check_detector_name, detector_from_settings

    with handle_errors():
        settings = load_settings()
        check_detector_name(detector or settings.grooming_detector)
        _check_output_folder(output)
        items, conversations = _read(data, predators)
        if not conversations and items:
            raise typer.Exit(EXIT_ERROR)
        found = detector_from_settings(settings, detector)
        model = GroomingClassifier.train(conversations, found)
        model.save(output)
    typer.echo(
        f"trained on {model.document['trained_on']['senders']} senders; "
        f"wrote {display_text(str(output), markup=False)} ({model.label})"
    )
    _exit_status(items, conversations)
