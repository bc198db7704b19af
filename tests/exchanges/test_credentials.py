"""Exchange credentials: encrypted at rest with the configured Fernet key, a clear error for a
missing or wrong key, key rotation with ``rekey``, and secrets hidden from ``repr``."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select

from safehold.banks.service import BankService
from safehold.errors import ConfigurationError
from safehold.exchanges import ExchangeService
from safehold.exchanges.credentials import CredentialBox, Credentials
from safehold.settings import Settings
from safehold.storage.tables import exchanges

SECRET = "pa55-word-that-must-not-leak"


@pytest.fixture
def stored(exchange_service: ExchangeService, bank_service: BankService) -> ExchangeService:
    bank_service.create_bank("b")
    exchange_service.add_exchange(
        "n", "ncmec", "b", credentials={"username": "u", "password": SECRET}
    )
    return exchange_service


def _blob(service: ExchangeService) -> bytes:
    with service.engine.connect() as c:
        return bytes(c.execute(select(exchanges.c.credentials)).scalar_one())


def test_credentials_are_encrypted_at_rest(stored: ExchangeService) -> None:
    blob = _blob(stored)
    assert SECRET.encode() not in blob
    assert b"password" not in blob
    source = stored.open_source(stored.get_exchange("n"), None)
    assert source.credentials == {"username": "u", "password": SECRET}
    assert SECRET not in repr(source.credentials)
    assert repr(Credentials({"password": SECRET})) == "Credentials(password: hidden)"
    assert stored.get_exchange("n").has_credentials


def test_wrong_or_missing_key_is_a_clear_error(
    stored: ExchangeService, exchange_settings: Settings, tmp_path: Path
) -> None:
    wrong = ExchangeService(
        stored.engine,
        exchange_settings.model_copy(
            update={"exchange_key": SecretStr(Fernet.generate_key().decode())}
        ),
    )
    with pytest.raises(ConfigurationError, match="cannot decrypt the credentials of exchange 'n'"):
        wrong.open_source(wrong.get_exchange("n"), None)
    none = exchange_settings.model_copy(update={"exchange_key": None, "exchange_key_file": None})
    with pytest.raises(ConfigurationError, match="no exchange credential key"):
        CredentialBox(none)
    bad = exchange_settings.model_copy(update={"exchange_key": SecretStr("not-a-key")})
    with pytest.raises(ConfigurationError, match="key 1 is not a Fernet key") as info:
        CredentialBox(bad)
    assert "not-a-key" not in info.value.message
    missing = tmp_path / "absent.key"
    from_file = exchange_settings.model_copy(
        update={"exchange_key": None, "exchange_key_file": missing}
    )
    with pytest.raises(ConfigurationError, match="cannot read SAFEHOLD_EXCHANGE_KEY_FILE"):
        CredentialBox(from_file)


def test_rekey_rotates_to_the_first_key(
    stored: ExchangeService, exchange_settings: Settings, exchange_key: str, tmp_path: Path
) -> None:
    new = Fernet.generate_key().decode()
    key_file = tmp_path / "exchange.key"
    key_file.write_text(f"# newest first\n{new}\n{exchange_key}\n")
    both = ExchangeService(
        stored.engine,
        exchange_settings.model_copy(update={"exchange_key": None, "exchange_key_file": key_file}),
    )
    before = _blob(stored)
    assert both.rekey() == 1
    after = _blob(stored)
    assert after != before
    assert Fernet(new.encode()).decrypt(after)  # encrypted with the new key now
    only_new = ExchangeService(
        stored.engine, exchange_settings.model_copy(update={"exchange_key": SecretStr(new)})
    )
    source = only_new.open_source(only_new.get_exchange("n"), None)
    assert source.credentials["password"] == SECRET
    with pytest.raises(ConfigurationError, match="cannot decrypt"):
        stored.open_source(stored.get_exchange("n"), None)  # the old key alone no longer opens it
