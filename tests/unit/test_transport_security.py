import ssl

import faust
import pytest

from dsrs.settings import load_settings
from dsrs.transport_security import database_connect_args, faust_broker_credentials, kafka_client_options


def test_plaintext_by_default() -> None:
    settings = load_settings()
    assert kafka_client_options(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_broker_credentials(settings) is None
    assert database_connect_args(settings) == {}


def test_sasl_over_tls_for_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSRS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("DSRS_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("DSRS_KAFKA_SASL_USERNAME", "dsrs")
    monkeypatch.setenv("DSRS_KAFKA_SASL_PASSWORD", "s3cret")
    settings = load_settings()
    options = kafka_client_options(settings)
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "dsrs"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert isinstance(faust_broker_credentials(settings), faust.SASLCredentials)


def test_sasl_without_credentials_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSRS_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    with pytest.raises(ValueError, match="SASL"):
        load_settings()


@pytest.mark.parametrize(
    ("mode", "verify", "hostname"),
    [
        ("require", ssl.CERT_NONE, False),
        ("verify-ca", ssl.CERT_REQUIRED, False),
        ("verify-full", ssl.CERT_REQUIRED, True),
    ],
)
def test_postgres_tls_modes(monkeypatch: pytest.MonkeyPatch, mode: str, verify: ssl.VerifyMode, hostname: bool) -> None:
    monkeypatch.setenv("DSRS_DATABASE_SSL", mode)
    context = database_connect_args(load_settings())["ssl"]
    assert (context.verify_mode, context.check_hostname) == (verify, hostname)
