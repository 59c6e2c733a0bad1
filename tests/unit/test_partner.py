import asyncio
from typing import Any

import pytest

from dsrs.events import publishing
from dsrs.settings import load_settings
from dsrs_dev import partner


class Refused(Exception):
    pass


def test_the_partner_publisher_reaches_the_broker_as_the_settings_say(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSRS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("DSRS_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("DSRS_KAFKA_SASL_USERNAME", "partner")
    monkeypatch.setenv("DSRS_KAFKA_SASL_PASSWORD", "s3cret")
    made: list[dict[str, Any]] = []

    class Producer:
        def __init__(self, **options: Any) -> None:
            made.append(options)

        async def start(self) -> None:
            raise Refused

        async def stop(self) -> None:
            return None

    monkeypatch.setattr(publishing, "AIOKafkaProducer", Producer)
    with pytest.raises(Refused):
        asyncio.run(partner.publish_intake(load_settings(), []))
    (options,) = made
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "partner"
    assert options["ssl_context"] is not None
