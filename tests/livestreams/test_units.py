"""The k-of-n decision, the stream URL policy and stream options, without streams."""

from __future__ import annotations

import pytest

from safehold.errors import InvalidInputError, UnsafeUrlError
from safehold.livestreams.decision import KOfNDecider
from safehold.livestreams.models import Decision, StreamConfig
from safehold.livestreams.policy import check_stream_url, parse_stream_url
from safehold.scanning.records import MatchInfo
from safehold.settings import Settings


def _m(bank: str, entry_id: int, distance: int = 10) -> MatchInfo:
    return MatchInfo(bank, entry_id, "pdq", distance, None, "")


def _config(settings: Settings, **per_bank: Decision) -> StreamConfig:
    return StreamConfig(1.0, 30.0, Decision(2, 4), per_bank)


def test_k_of_n_fires_once_per_appearance_and_rearms(settings: Settings) -> None:
    decider = KOfNDecider(_config(settings))
    fed = [[], [_m("a", 1)], [], [_m("a", 2, 5), _m("a", 1, 20)], [_m("a", 1)], [], [], [], []]
    fired = [decider.add(float(t), matches) for t, matches in enumerate(fed)]

    assert [len(f) for f in fired] == [0, 0, 0, 1, 0, 0, 0, 0, 0]
    alert = fired[3][0]
    # entry 1 matched in 2 samples, entry 2 in 1: entry 1, its closest distance
    assert (alert.bank, alert.entry_id, alert.distance) == ("a", 1, 10)
    assert (alert.stream_seconds, alert.matched_frames, alert.window) == (3.0, 2, 4)
    # four samples without "a" re-arm it: a new appearance alerts again
    assert [len(decider.add(t, [_m("a", 1)])) for t in (9.0, 10.0)] == [0, 1]


def test_k_of_n_is_per_bank(settings: Settings) -> None:
    decider = KOfNDecider(_config(settings, strict=Decision(3, 3)))
    out = [decider.add(t, [_m("loose", 1), _m("Strict", 2)]) for t in (0.0, 1.0, 2.0)]

    assert [[a.bank for a in alerts] for alerts in out] == [[], ["loose"], ["Strict"]]


def test_matches_spread_wider_than_the_window_never_alert(settings: Settings) -> None:
    decider = KOfNDecider(_config(settings))
    fed = [[_m("a", 1)] if t % 4 == 0 else [] for t in range(20)]

    assert all(decider.add(float(t), m) == [] for t, m in enumerate(fed))


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("file:///etc/passwd", "'file' stream URLs are refused"),
        ("concat:http://example.com/a|file:///etc/passwd", "'concat' stream URLs are refused"),
        ("subfile:,,start,0,end,0,,:/etc/passwd", "'subfile'"),
        ("data:video/mp2t;base64,AAAA", "'data'"),
        ("gopher://example.com/", "'gopher'"),
        ("hls+http://example.com/x.m3u8", "^stream URLs of this scheme are refused"),
        ("rtmp://user:secret@example.com/live", "credentials"),
        ("rtsp:///nohost", "no host"),
        ("http://exa mple.com/x", "spaces or control characters"),
        ("", "empty"),
    ],
)
def test_refused_stream_urls(url: str, needle: str) -> None:
    with pytest.raises(UnsafeUrlError, match=needle):
        parse_stream_url(url)


@pytest.mark.parametrize(
    ("url", "display", "whitelist"),
    [
        ("https://93.184.216.34/live/x.m3u8?key=k", "https://93.184.216.34:443", "http,https"),
        ("rtmp://93.184.216.34/app/streamkey", "rtmp://93.184.216.34:1935", "rtmp,tcp"),
        ("rtsp://93.184.216.34:8554/cam", "rtsp://93.184.216.34:8554", "rtsp,rtp,udp,tcp"),
        ("udp://@:1234", "udp://:1234", "udp,rtp"),
    ],
)
def test_accepted_stream_urls(url: str, display: str, whitelist: str, settings: Settings) -> None:
    checked = check_stream_url(url, settings.model_copy(update={"stream_udp_listen": True}))

    assert checked.display == display
    assert checked.whitelist.startswith(whitelist)
    assert "file" not in checked.whitelist.split(",")


@pytest.mark.parametrize(
    ("url", "listen", "needle"),
    [
        ("udp://@:1234", False, "listening for UDP streams"),  # binds every interface
        ("udp://:1234", False, "listening for UDP streams"),
        ("udp://93.184.216.34:1234", True, "udp stream URLs with a host are refused"),
        ("udp://239.1.1.1:1234", True, "udp stream URLs with a host are refused"),
    ],
)
def test_udp_only_by_listening_and_only_when_allowed(
    url: str, listen: bool, needle: str, settings: Settings
) -> None:
    with pytest.raises(UnsafeUrlError, match=needle):
        check_stream_url(url, settings.model_copy(update={"stream_udp_listen": listen}))


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/x.m3u8", "rtmp://10.0.0.5/live", "rtsp://[::1]/cam"]
)
def test_non_public_hosts_are_refused_unless_allowed(url: str, settings: Settings) -> None:
    with pytest.raises(UnsafeUrlError, match="refused"):
        check_stream_url(url, settings)
    allowed = settings.model_copy(
        update={"fetch_allow_networks": ["127.0.0.0/8", "10.0.0.0/8", "::1/128"]}
    )
    assert check_stream_url(url, allowed).url == url


def test_options_validate_and_round_trip(settings: Settings) -> None:
    given = {"sample_seconds": 0.5, "decision": {"frames": 1, "window": 2}, "banks": ["a"]}
    config = StreamConfig.from_dict(given, settings)

    assert StreamConfig.from_dict(config.to_dict(), settings) == config
    assert config.decision_for("A") == Decision(1, 2)
    for bad in (
        {"sample_seconds": 0},
        {"decision": {"frames": 5, "window": 4}},
        {"decode": "fast"},
        {"colour": 1},
        {"banks": "a"},
    ):
        with pytest.raises(InvalidInputError):
            StreamConfig.from_dict(bad, settings)
