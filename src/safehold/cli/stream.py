"""``safehold stream``: watch live streams for known material.

``watch URL...`` registers the streams and monitors them in this process with a live view
(state, decode mode, stream time, samples per second, alerts); ``add``/``list``/``stop``/
``alerts`` manage registered streams; ``monitor`` runs a monitor process that claims
registered streams (the service's workers run one each unless
``SAFEHOLD_STREAM_MONITOR_IN_SERVICE=false``). Details: ``docs/livestreams.md``.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from types import FrameType
from typing import Any

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table

from safehold.actions import ActionService, start_deliverer
from safehold.banks.service import BankService
from safehold.cli.common import display_text, handle_errors, load_settings, make_console
from safehold.livestreams.alerts import AlertRecorder
from safehold.livestreams.models import StreamAlert, StreamState
from safehold.livestreams.pool import MonitorPool
from safehold.livestreams.service import StreamService, display_url
from safehold.livestreams.store import StreamRecord
from safehold.matching.live import LiveMatcher
from safehold.settings import Settings
from safehold.storage.engine import open_database

app = typer.Typer(help="Watch live streams for known material.", no_args_is_help=True)


def _service() -> StreamService:
    settings = load_settings()
    return StreamService(open_database(settings), settings)


def _options(
    sample_seconds: float | None, frames: int | None, window: int | None, banks: list[str]
) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if sample_seconds is not None:
        options["sample_seconds"] = sample_seconds
    if frames is not None or window is not None:
        settings = load_settings()
        options["decision"] = {
            "frames": frames or settings.stream_alert_frames,
            "window": window or settings.stream_alert_window,
        }
    if banks:
        options["banks"] = banks
    return options


def _record_json(r: StreamRecord) -> dict[str, object]:
    return {
        "id": r.id,
        "name": r.name,
        "url": display_url(r.url),
        "status": r.status,
        "stop_requested": r.desired == "stop",
        "frames_sampled": r.frames_sampled,
        "alerts": r.alerts,
        "decode_errors": r.decode_errors,
        "reconnects": r.reconnects,
        "stream_seconds": round(r.stream_seconds, 3),
        "last_error": r.last_error,
    }


SAMPLE = typer.Option(None, "--sample-seconds", help="Seconds between samples [default: 1].")
FRAMES = typer.Option(None, "--frames", help="k: matched samples that alert [default: 2].")
WINDOW = typer.Option(None, "--window", help="n: samples the decision looks at [default: 4].")
BANKS = typer.Option([], "--bank", help="Match only this bank (repeatable).")


@app.command("add")
def add(
    url: str = typer.Argument(..., help="Stream URL: http(s) (HLS, MPEG-TS), rtmp, rtsp, udp."),
    name: str = typer.Option("", "--name", help="A label for the stream."),
    stop_url: str | None = typer.Option(None, "--stop-url", help="POSTed on alert."),
    sample_seconds: float | None = SAMPLE,
    frames: int | None = FRAMES,
    window: int | None = WINDOW,
    banks: list[str] = BANKS,
) -> None:
    """Register a stream; a monitor process (or a service worker) picks it up."""
    with handle_errors():
        record = _service().register(
            url,
            name=name,
            stop_url=stop_url,
            options=_options(sample_seconds, frames, window, banks),
        )
        typer.echo(json.dumps(_record_json(record)))


@app.command("list")
def list_streams(
    status: str | None = typer.Option(None, "--status", help="Only streams in this state."),
) -> None:
    """List registered streams (JSON Lines)."""
    with handle_errors():
        for record in _service().list_streams(status=status, limit=1000):
            typer.echo(json.dumps(_record_json(record)))


@app.command("stop")
def stop(stream_id: int = typer.Argument(..., help="The stream's id.")) -> None:
    """Ask for a stream to be stopped."""
    with handle_errors():
        typer.echo(json.dumps(_record_json(_service().stop(stream_id))))


@app.command("alerts")
def alerts(stream_id: int = typer.Argument(..., help="The stream's id.")) -> None:
    """Print a stream's alerts (JSON Lines: bank entry, stream time, wall time, k of n)."""
    with handle_errors():
        for a in _service().alerts(stream_id, limit=1000):
            row = {
                "id": a.id,
                "bank": a.bank,
                "entry_id": a.entry_id,
                "stream_seconds": a.stream_seconds,
                "detected_at": a.created_at.isoformat(timespec="seconds"),
                "matched_frames": a.matched_frames,
                "window": a.window,
                "event_id": a.event_id,
                "stop_status": a.stop_status,
            }
            typer.echo(json.dumps(row))


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def _pool(
    settings: Settings, stop: threading.Event, only: frozenset[int] | None
) -> tuple[MonitorPool, LiveMatcher, list[StreamAlert]]:
    """A pool on a loaded, polling matcher, recording alerts (and remembering them)."""
    engine = open_database(settings)
    matcher = LiveMatcher(BankService(engine), settings, index_dir=settings.data_dir / "index")
    matcher.load()
    matcher.start_polling(settings.index_poll_seconds)
    actions = ActionService(engine, settings)
    start_deliverer(actions, stop)
    seen: list[StreamAlert] = []

    class Shown(AlertRecorder):
        def record(self, stream_id: int, alert: StreamAlert, **kw: Any) -> int:
            seen.append(alert)
            return super().record(stream_id, alert, **kw)

    recorder = Shown(actions, StreamService(engine, settings).store, settings)
    return MonitorPool(recorder.store, recorder, matcher.match, settings, only=only), matcher, seen


@app.command("monitor")
def monitor() -> None:
    """Run a monitor process: claim registered streams and watch them until stopped."""
    with handle_errors():
        settings = load_settings()
        stop = _stop_on_signals()
        pool, matcher, _ = _pool(settings, stop, None)
        typer.echo(f"monitoring up to {settings.stream_max_per_process} streams", err=True)
        try:
            pool.run_forever(stop)
        finally:
            matcher.stop()


def _view(pool: MonitorPool, seen: list[StreamAlert], started: float) -> Group:
    table = Table(title="live streams")
    for column in ("id", "stream", "state", "decode", "stream s", "samples/s", "scene"):
        table.add_column(column)
    for column in ("decode errors", "reconnects", "alerts"):
        table.add_column(column, justify="right")
    for stream_id, run in sorted({**pool.finished, **pool.running}.items()):
        m, c = run.monitor, run.monitor.counters
        elapsed = max(time.monotonic() - started, 1e-6)
        table.add_row(
            str(stream_id),
            display_text(run.record.name or display_url(run.record.url)),
            m.state.value,
            m.mode,
            f"{c.stream_seconds:.1f}",
            f"{c.frames_sampled / elapsed:.2f}",
            str(c.scene_samples),
            str(c.decode_errors),
            str(c.reconnects),
            str(c.alerts),
        )
    lines = [
        f"ALERT bank {display_text(a.bank)} entry {a.entry_id} at {a.stream_seconds:.1f} s "
        f"({a.matched_frames} of {a.window} samples, {a.detected_at:%H:%M:%S} UTC)"
        for a in seen[-10:]
    ]
    return Group(table, *lines)


@app.command("watch")
def watch(
    urls: list[str] = typer.Argument(..., help="Stream URLs to watch."),
    sample_seconds: float | None = SAMPLE,
    frames: int | None = FRAMES,
    window: int | None = WINDOW,
    banks: list[str] = BANKS,
) -> None:
    """Watch streams here with a live view until they end or Ctrl-C; alerts are recorded
    (and webhooks sent) as for registered streams.

    Exit status: 0 no alert, 1 an alert, 4 a stream failed (could not be read after the
    retries), 5 both, 2 an error before watching started.
    """
    with handle_errors():
        settings = load_settings()
        service = StreamService(open_database(settings), settings)
        options = _options(sample_seconds, frames, window, banks)
        ids = frozenset(service.register(url, options=options).id for url in urls)
        stop = _stop_on_signals()
        pool, matcher, seen = _pool(settings, stop, ids)
        started = time.monotonic()
        try:
            with Live(_view(pool, seen, started), console=make_console(), transient=False) as live:
                while not stop.is_set():
                    pool.run_once()
                    live.update(_view(pool, seen, started))
                    if len(pool.finished) >= len(ids):
                        break
                    stop.wait(0.5)
        finally:
            pool.shutdown(hand_over=False)  # streams watched here end with the watch
            matcher.stop()
        failed = sum(run.monitor.state == StreamState.FAILED for run in pool.finished.values())
        typer.echo(f"{len(seen)} alert(s), {failed} stream(s) failed", err=True)
    # The scan's convention: bit 1 an alert (a match), bit 4 a stream that failed.
    raise typer.Exit((1 if seen else 0) | (4 if failed else 0))
