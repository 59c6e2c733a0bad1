"""TLS and SASL for the connections to Kafka and PostgreSQL, from the DSRS_* settings."""

from __future__ import annotations

import ssl
from typing import Any

import faust

from dsrs.settings import Settings


def _context(cafile: str | None, verify: bool, check_hostname: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = check_hostname
    if not verify:
        context.verify_mode = ssl.CERT_NONE
    return context


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if "SSL" not in settings.kafka_security_protocol:
        return None
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    return _context(cafile, verify=True, check_hostname=True)


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for every aiokafka client DSRS creates."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = kafka_ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password
    return options


def faust_broker_credentials(settings: Settings) -> Any:
    """The same for Faust's own consumer and producer (None: plaintext)."""
    context = kafka_ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def database_connect_args(settings: Settings) -> dict[str, Any]:
    """asyncpg's `ssl` argument: require encrypts; verify-ca checks the server's certificate; verify-full
    checks its name as well."""
    if settings.database_ssl == "disable":
        return {}
    cafile = str(settings.database_ssl_cafile) if settings.database_ssl_cafile else None
    verify = settings.database_ssl in ("verify-ca", "verify-full")
    return {"ssl": _context(cafile, verify=verify, check_hostname=settings.database_ssl == "verify-full")}
