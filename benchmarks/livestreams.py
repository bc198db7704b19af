"""Live-stream monitoring: how many 720p streams one core watches, and at what cost.

A 2 min, 1280x720, 30 fps H.264 stream is made with PyAV from the benign reference clips
(doorknob 12 s, chair 6 s, doorknob 12 s, four times; x264 ``veryfast``, B-frames and scene-cut
keyframes on) twice: with a keyframe every 2 s (a common live-encoder setting) and every 1 s.
The bank holds the reference vPDQ implementation's PDQ of the chair clip, 1 frame per second.

1. Cost: one :class:`~safehold.livestreams.monitor.StreamMonitor` reads the file as fast as
   it can in one thread; CPU seconds of that thread per stream second give the CPU cost per
   stream-hour and the streams one core sustains at 1 fps (``1 / cost``). Compared against
   the naive baseline measured in the same run: every frame decoded (``decode=all``, the
   same single decoder thread), hashing 1 frame per second. ``auto-idle`` is ``auto`` with an
   empty bank: the cost of the usual stream, in which nothing ever matches (the stream
   itself shows the chair 20 % of the time, so ``auto`` there spends a fifth of it
   confirming).
2. Latency: N monitors at once, pinned to one core (``sched_setaffinity``), each paced to
   real time (a frame is handed on no earlier than its stream time), on the 30 s 2 s-GOP clip
   with the default ``auto`` mode. The detection latency of each stream is the wall time of
   first alert minus the wall time the chair's first frame was due; the run passes when every
   stream alerts within 2 s. N defaults to 80 % of the measured capacity (at most 60).

Run on an otherwise idle machine (about two minutes)::

    . .venv/bin/activate
    python benchmarks/livestreams.py            # --streams N to choose N
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import av

from safehold.banks.models import NewEntry
from safehold.banks.service import BankService
from safehold.livestreams.models import StreamAlert, StreamConfig
from safehold.livestreams.monitor import StreamMonitor, with_decode
from safehold.matching.live import LiveMatcher
from safehold.settings import Settings
from safehold.storage import migrate
from safehold.storage.engine import create_database_engine, normalize_url

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "reference" / "videos"
PARTS = [("doorknob-hd-no-bar.mp4", 4.0)] * 3 + [("chair-orig-22-sd-bar.mp4", 6.0)]
PARTS += [("doorknob-hd-no-bar.mp4", 4.0)] * 3
CHAIR_AT = 12.0
FPS = 30
LOOPS = 4  # the 30 s clip four times: 2 minutes, so start-up is a small share of the cost


def make_stream(path: Path, gop_seconds: float) -> float:
    """Encode :data:`PARTS` at 1280x720 into MPEG-TS, repeated :data:`LOOPS` times (packets
    re-timed, not re-encoded) into ``path``; return its length (s)."""
    once = path.with_suffix(".once.ts")
    out = av.open(str(once), "w", format="mpegts")
    stream = out.add_stream("libx264", rate=FPS)
    stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
    stream.codec_context.gop_size = round(gop_seconds * FPS)
    stream.codec_context.options = {"preset": "veryfast"}
    count = 0
    for name, seconds in PARTS:
        with av.open(str(VIDEOS / name)) as source:
            for frame in source.decode(video=0):
                if frame.time is not None and frame.time >= seconds:
                    break
                big = frame.reformat(width=1280, height=720, format="yuv420p")
                big.pts, big.time_base = count, Fraction(1, FPS)
                count += 1
                for packet in stream.encode(big):
                    out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    length = count / FPS
    with av.open(str(path), "w", format="mpegts") as looped:
        copy = None
        for i in range(LOOPS):
            with av.open(str(once)) as source:
                video = source.streams.video[0]
                copy = copy or looped.add_stream_from_template(video)
                shift = round(i * length / (video.time_base or Fraction(1, 90_000)))
                for packet in source.demux(video):
                    if not packet.size:
                        continue
                    packet.stream = copy
                    if packet.pts is not None:
                        packet.pts += shift
                    if packet.dts is not None:
                        packet.dts += shift
                    looped.mux(packet)
    return LOOPS * length


def chair_bank(settings: Settings) -> LiveMatcher:
    """A migrated SQLite database with the chair bank; its loaded matcher."""
    engine = create_database_engine(normalize_url(settings.resolved_database_url()))
    migrate.upgrade(engine)
    banks = BankService(engine)
    lines = (VIDEOS / "vpdq-hashes" / "chair-orig-22-sd-bar.txt").read_text().splitlines()
    rows = [line.split(",") for line in lines if line[:1].isdigit()]
    banks.create_bank("known")
    banks.add_entries(
        "known", [NewEntry("pdq", r[2], int(r[1])) for r in rows if int(r[0]) % 30 == 0]
    )
    matcher = LiveMatcher(banks, settings)
    matcher.load()
    return matcher


class PacedMonitor(StreamMonitor):
    """Hands each frame on no earlier than its stream time after ``start`` (real time)."""

    start = 0.0

    def _frame(self, frame: object, pts: float | None) -> None:
        due = self.start + (self.counters.stream_seconds if pts is None else pts)
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        super()._frame(frame, pts)


def cost(
    path: Path, length: float, config: StreamConfig, settings: Settings, matcher: LiveMatcher | None
) -> tuple[float, list[StreamAlert]]:
    """CPU seconds per stream second of one unpaced monitor; the alerts raised. With no
    ``matcher`` nothing matches: the cost of a stream showing no known material."""
    alerts: list[StreamAlert] = []
    monitor = StreamMonitor(
        str(path),
        "file",
        config,
        settings,
        match=lambda s: matcher.match({"pdq": s}) if matcher else [],
        on_alert=alerts.append,
    )
    spent: list[float] = []

    def run() -> None:
        began = time.thread_time()
        monitor.run()
        spent.append(time.thread_time() - began)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return spent[0] / length, alerts


def latency(
    path: Path, streams: int, config: StreamConfig, settings: Settings, matcher: LiveMatcher
) -> list[float | None]:
    """Wall-clock detection latency of each of ``streams`` paced monitors on one core."""
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    found: dict[int, float] = {}
    monitors: list[PacedMonitor] = []
    for i in range(streams):

        def on_alert(alert: StreamAlert, i: int = i) -> None:
            found.setdefault(i, time.monotonic())

        monitor = PacedMonitor(
            str(path),
            "file",
            config,
            settings,
            match=lambda s: matcher.match({"pdq": s}),
            on_alert=on_alert,
        )
        monitors.append(monitor)
    threads = [threading.Thread(target=m.run) for m in monitors]
    start = time.monotonic() + 0.5
    for monitor in monitors:
        monitor.start = start
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    due = start + CHAIR_AT
    return [found[i] - due if i in found else None for i in range(streams)]


def main() -> None:
    """Print the cost table, the capacity per core and the latency run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=0, help="paced streams (0: 80 %% cap)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=None)
        matcher = chair_bank(settings)
        base = StreamConfig.from_settings(settings)
        made: dict[float, tuple[Path, float]] = {}
        for gop in (2.0, 1.0):
            path = Path(tmp) / f"gop{gop:g}.ts"
            made[gop] = (path, make_stream(path, gop))
        head = f"{'stream':>10} {'decode':>7} {'CPU s/stream-h':>15} {'streams/core':>13}"
        print(f"{head} alerts  latency (stream s after the chair starts)")
        capacity: dict[tuple[float, str], float] = {}
        for gop, (path, length) in made.items():
            for mode in ("all", "nonref", "nonkey", "auto", "auto-idle"):
                config = with_decode(base, mode.split("-")[0])
                bank = None if mode == "auto-idle" else matcher
                per_s, alerts = cost(path, length, config, settings, bank)
                capacity[(gop, mode)] = 1 / per_s
                label = f"GOP {gop:g} s"
                waits = ", ".join(f"{(a.stream_seconds - CHAIR_AT) % 30:.2f}" for a in alerts)
                print(
                    f"{label:>10} {mode:>7} {per_s * 3600:15.0f} {1 / per_s:13.1f} "
                    f"{len(alerts):>6}  {waits}"
                )
        for gop in made:
            ratio = capacity[(gop, "auto")] / capacity[(gop, "all")]
            print(f"GOP {gop:g} s: auto watches {ratio:.1f}x the streams of decoding every frame")
        path = made[2.0][0].with_suffix(".once.ts")  # the 30 s clip, chair at 12 s
        n = args.streams or max(1, min(60, int(0.8 * capacity[(2.0, "auto")])))
        lags = latency(path, n, base, settings, matcher)
        hits = [w for w in lags if w is not None]
        worst = max(hits) if hits else float("nan")
        print(
            f"{n} paced 720p streams on one core (GOP 2 s, auto): {len(hits)}/{n} alerted, "
            f"detection latency max {worst:.2f} s, "
            f"median {sorted(hits)[len(hits) // 2] if hits else float('nan'):.2f} s "
            f"-> {'PASS' if len(hits) == n and worst < 2.0 else 'FAIL'} (< 2 s)"
        )
        matcher.stop()


if __name__ == "__main__":
    main()
