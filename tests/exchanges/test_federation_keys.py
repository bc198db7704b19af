"""The federation publisher key: loading it from a setting or file, the key-pair command, and the
canonical page bytes and positions both sides share (:mod:`safehold.exchanges.federation_protocol`).
"""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from safehold.cli.main import app
from safehold.errors import ConfigurationError, FetchError, InvalidInputError
from safehold.exchanges.federation_protocol import (
    FeedPosition,
    canonical_json,
    open_envelope,
    parse_public_key,
    public_key_text,
    publisher_key,
    sign_page,
)
from safehold.settings import Settings, get_settings

runner = CliRunner()

# RFC 8032 section 7.1, TEST 1: secret key, public key, and the signature of the empty message.
RFC_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
RFC_SIGNATURE = (
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def _b64(hex_text: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_text)).decode()


def test_a_raw_key_setting_loads_as_rfc_8032_says(settings: Settings) -> None:
    key = publisher_key(settings.model_copy(update={"federation_key": SecretStr(_b64(RFC_SECRET))}))
    assert public_key_text(key) == _b64(RFC_PUBLIC)
    assert key.sign(b"").hex() == RFC_SIGNATURE


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({}, "publishes no federation feed"),
        ({"federation_key": SecretStr("bm90IGEga2V5")}, "not an Ed25519 private key"),
        ({"federation_key_file": Path("/nonexistent/federation.pem")}, "cannot read"),
    ],
)
def test_a_missing_or_bad_key_is_a_clear_error(
    settings: Settings, update: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        publisher_key(settings.model_copy(update=update))
    assert "bm90IGEga2V5" not in caught.value.message  # the key is never echoed


def test_keygen_writes_a_private_key_file_and_prints_its_public_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    key_file = tmp_path / "federation.pem"
    made = runner.invoke(app, ["exchange", "federation-keygen", str(key_file)])
    assert made.exit_code == 0, made.output
    public = made.output.strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")

    monkeypatch.setenv("SAFEHOLD_FEDERATION_KEY_FILE", str(key_file))
    get_settings.cache_clear()
    shown = runner.invoke(app, ["exchange", "federation-public-key"])
    assert shown.output.strip() == public
    # what the file signs verifies with the printed public key, and nothing else does
    envelope = sign_page({"n": 1}, publisher_key(get_settings()))
    body = canonical_json(envelope)
    assert open_envelope(body, parse_public_key(public), "w") == {"n": 1}
    forged = body.replace(b'{\\"n\\":1}', b'{\\"n\\":2}')
    assert forged != body
    with pytest.raises(FetchError, match="signature does not verify"):
        open_envelope(forged, parse_public_key(public), "w")

    again = runner.invoke(app, ["exchange", "federation-keygen", str(key_file)])
    assert again.exit_code == 2
    assert "exists; give --force" in again.output
    assert runner.invoke(app, ["exchange", "federation-public-key"]).output.strip() == public


def test_canonical_json_and_positions() -> None:
    # RFC 8785 orders keys and writes no white space; non-ASCII text stays UTF-8.
    assert (
        canonical_json({"b": [1, None, True], "a": "é"}) == '{"a":"é","b":[1,null,true]}'.encode()
    )
    assert FeedPosition.parse("") == FeedPosition(0, 0)
    assert FeedPosition.parse("12.3") == FeedPosition(12, 3)
    assert str(FeedPosition(12, 3)) == "12.3"
    assert FeedPosition(12, 3) < FeedPosition(12, 4) < FeedPosition(13, 0)
    assert FeedPosition.parse(f"{2**63 - 1}.{2**63 - 1}") == FeedPosition(2**63 - 1, 2**63 - 1)
    for bad in ("12", "a.1", "-1.2", "1.2.3", "1." + "9" * 50, f"{2**63}.0", f"0.{2**63}",
                "\u00b2.0", "1.\u0661", "+1.2", " 1.2"):  # fmt: skip
        with pytest.raises(InvalidInputError):
            FeedPosition.parse(bad)
    with pytest.raises(InvalidInputError, match="base64 of 32 bytes"):
        parse_public_key(_b64(RFC_PUBLIC)[:-8])
