"""Fixtures for live-stream tests: benign clips encoded with PyAV, served live on loopback.

``make_clip`` re-encodes parts of the reference videos (``shared/data/reference/videos``: a
doorknob clip, the negative, and a chair clip, the "known" one) into one small H.264 stream,
as HLS segments (PyAV's ``hls`` muxer) or one MPEG-TS file. ``LiveServer`` serves them on
127.0.0.1: an HLS playlist grows with wall time as a live encoder's would (segments appear
when their stream time is reached; ``#EXT-X-ENDLIST`` once all are out), and plain MPEG-TS
bodies can be served whole, cut, stalled or with garbage in the middle. The chair bank holds
the reference vPDQ implementation's PDQ hashes of the chair clip, one frame per second
(``vpdq-hashes/chair-orig-22-sd-bar.txt``), never our own output.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import pytest
from sqlalchemy import Engine, delete

from safehold.banks.models import NewEntry
from safehold.banks.service import BankService
from safehold.matching.live import LiveMatcher
from safehold.settings import Settings
from safehold.storage.tables import streams

DOORKNOB = "doorknob-hd-no-bar.mp4"
CHAIR = "chair-orig-22-sd-bar.mp4"
WIDTH, HEIGHT, FPS = 240, 360, 15  # the chair clip's 2:3 shape, small


def make_clip(
    videos: Path,
    out: Path,
    parts: list[tuple[str, float]],
    *,
    hls: bool,
    gop_seconds: float = 2.0,
) -> list[tuple[str, float]]:
    """Encode ``parts`` (file name, seconds from its start) back to back at 240x360, 15 fps,
    x264 defaults (B-frames, scene-cut keyframes) with a keyframe every ``gop_seconds``.

    Returns:
        HLS: ``[(segment file name, duration s)]``; MPEG-TS: ``[("stream.ts", seconds)]``.
    """
    out.mkdir(parents=True, exist_ok=True)
    if hls:
        target = str(out / "index.m3u8")
        opts = {"hls_time": "1", "hls_list_size": "0", "hls_playlist_type": "event"}
        container = av.open(target, "w", format="hls", options=opts)
    else:
        container = av.open(str(out / "stream.ts"), "w", format="mpegts")
    stream = container.add_stream("libx264", rate=FPS)
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    stream.codec_context.gop_size = round(gop_seconds * FPS)
    stream.codec_context.options = {"preset": "veryfast"}
    count = 0
    for name, seconds in parts:
        with av.open(str(videos / name)) as source:
            for i, frame in enumerate(source.decode(video=0)):
                if frame.time is not None and frame.time >= seconds:
                    break
                if i % 2:  # 30 fps sources -> 15 fps
                    continue
                small = frame.reformat(width=WIDTH, height=HEIGHT, format="yuv420p")
                small.pts, small.time_base = count, Fraction(1, FPS)
                count += 1
                for packet in stream.encode(small):
                    container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    if not hls:
        return [("stream.ts", count / FPS)]
    lines = (out / "index.m3u8").read_text().splitlines()
    segments: list[tuple[str, float]] = []
    for i, line in enumerate(lines):
        if line.startswith("#EXTINF:"):
            segments.append((lines[i + 1], float(line[8:].split(",")[0])))
    return segments


@dataclass
class HlsStream:
    """A live HLS stream: segments released as wall time passes ``speed`` x real time."""

    folder: Path
    segments: list[tuple[str, float]]
    extra_lines: list[str] = field(default_factory=list)
    started: float | None = None
    speed: float = 1.0

    def released(self) -> int:
        """How many segments are out now (at least one: a live encoder's first)."""
        if self.started is None:
            self.started = time.monotonic()
        elapsed = (time.monotonic() - self.started) * self.speed
        total, count = 0.0, 0
        for _name, seconds in self.segments:
            if total > elapsed and count:
                break
            total += seconds
            count += 1
        return count

    def playlist(self) -> str:
        """The live playlist as it stands now."""
        count = self.released()
        target = max(1, round(max(s for _, s in self.segments)))
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}"]
        lines.append("#EXT-X-MEDIA-SEQUENCE:0")
        for name, seconds in self.segments[:count]:
            lines += [f"#EXTINF:{seconds:.6f},", name]
        lines += self.extra_lines
        if count == len(self.segments):
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"


Body = Callable[[BaseHTTPRequestHandler], None]


class LiveServer:
    """A loopback HTTP server of live HLS streams and scripted MPEG-TS answers, on ``host``
    (any of 127.0.0.0/8: Linux routes the whole block to ``lo``)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.hls: dict[str, HlsStream] = {}
        self.bodies: dict[str, list[Body]] = {}  # path -> one answer per request, last repeats
        self.requests: list[str] = []
        self.posts: list[tuple[str, bytes]] = []  # (path, body) of every POST
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                server.answer(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                server.posts.append((self.path, self.rfile.read(length)))
                send(self, b"{}", "application/json")

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        """``http://<host>:<port><path>``."""
        return f"http://{self.host}:{self.port}{path}"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        """Serve one request (404 for anything unknown)."""
        path = handler.path.split("?")[0]
        if path in self.bodies:
            answers = self.bodies[path]
            (answers.pop(0) if len(answers) > 1 else answers[0])(handler)
            return
        name, _, rest = path.strip("/").partition("/")
        stream = self.hls.get(name)
        if stream is not None and rest == "index.m3u8":
            send(handler, stream.playlist().encode(), "application/vnd.apple.mpegurl")
            return
        if stream is not None and rest in [n for n, _ in stream.segments[: stream.released()]]:
            send(handler, (stream.folder / rest).read_bytes(), "video/mp2t")
            return
        handler.send_error(404)

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


def send(handler: BaseHTTPRequestHandler, body: bytes, kind: str) -> None:
    """Answer 200 with ``body``."""
    handler.send_response(200)
    handler.send_header("Content-Type", kind)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        handler.wfile.write(body)


@pytest.fixture
def live_server() -> Iterator[LiveServer]:
    """A fresh loopback server; closed after the test."""
    server = LiveServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def videos(shared_data: Path) -> Path:
    """The reference videos folder."""
    return shared_data / "reference" / "videos"


@pytest.fixture(scope="session")
def clips(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The encoded test streams, made once per session.

    ``mixed``: doorknob 3.5 s, chair 4 s (starts at 3.5 s), doorknob 2 s, as HLS.
    ``doorknob``: the doorknob clip twice (8 s), as HLS. ``mixed_ts``: ``mixed`` as one
    MPEG-TS file.
    """
    root = tmp_path_factory.mktemp("clips")
    mixed = [(DOORKNOB, 3.5), (CHAIR, 4.0), (DOORKNOB, 2.0)]
    return {
        "mixed": (root / "mixed", make_clip(videos, root / "mixed", mixed, hls=True)),
        "doorknob": (
            root / "doorknob",
            make_clip(videos, root / "doorknob", [(DOORKNOB, 4.0), (DOORKNOB, 4.0)], hls=True),
        ),
        "mixed_ts": (root / "ts", make_clip(videos, root / "ts", mixed, hls=False)),
    }


#: Stream time at which the chair clip starts in ``mixed``.
CHAIR_STARTS_AT = 3.5


@pytest.fixture
def chair_bank(bank_service: BankService, videos: Path) -> tuple[str, set[int]]:
    """Bank ``known`` with the reference PDQ of the chair clip at 1 frame per second, plus an
    unrelated entry (the reference PDQ of the bridge photo); returns its name and the ids of
    the chair entries."""
    lines = (videos / "vpdq-hashes" / "chair-orig-22-sd-bar.txt").read_text().splitlines()
    per_second = [line.split(",") for line in lines if line.split(",")[0].isdigit()]
    chosen = [f for f in per_second if int(f[0]) % 30 == 0]
    bank_service.create_bank("known")
    bank_service.add_entries(
        "known",
        [NewEntry("pdq", f[2], int(f[1]), source=f"chair@{f[3]}") for f in chosen]
        + [
            NewEntry(
                "pdq",
                "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
                100,
                source="bridge",
            )
        ],
    )
    entries = bank_service.list_entries("known", limit=1000)
    return "known", {e.id for e in entries if e.source.startswith("chair@")}


@pytest.fixture
def matcher(bank_service: BankService, db_settings: Settings) -> LiveMatcher:
    """A loaded live matcher over the test database."""
    live = LiveMatcher(bank_service, db_settings)
    return live


@pytest.fixture
def clean_streams(engine: Engine) -> Iterator[Engine]:
    """The engine with no stream rows, removed again afterwards (PostgreSQL databases are
    shared within a session, and a later test's service would claim streams left behind)."""
    with engine.begin() as c:
        c.execute(delete(streams))
    yield engine
    with engine.begin() as c:
        c.execute(delete(streams))
