import logging

import pytest
from mode.utils.logging import ExtensionFormatter

from dsrs.monitoring.scrubbing import MASK, install_scrubbing, scrub


@pytest.mark.parametrize(
    "personal",
    [
        "+254712345678",
        "+254 712 345 678",
        "0712345678",
        "0712 345 678",
        "(0712) 345-678",
        "amina.okafor@example.org",
    ],
)
def test_phones_and_emails_are_masked(personal: str) -> None:
    assert scrub(f"could not reach {personal} today") == f"could not reach {MASK} today"


def test_personal_fields_are_masked_in_dicts_and_json() -> None:
    text = "{'head_of_household_name': 'Zebulon Quist', 'region': 'R01'} {\"address\": \"4 Market Road\", \"size\": 4}"
    scrubbed = scrub(text)
    assert "Zebulon" not in scrubbed
    assert "Market Road" not in scrubbed
    assert "'region': 'R01'" in scrubbed
    assert '"size": 4' in scrubbed


@pytest.mark.parametrize(
    "operational",
    ["offset 1234567", "due 2026-12-15", "at 2026-11-29T10:00:00+00:00", "127.0.0.1:6066", "amount 1234567.50"],
)
def test_operational_numbers_are_kept(operational: str) -> None:
    assert scrub(operational) == operational


def test_log_records_are_scrubbed_for_every_handler(caplog: pytest.LogCaptureFixture) -> None:
    install_scrubbing()
    logger = logging.getLogger("dsrs.test.scrubbing")
    with caplog.at_level(logging.INFO):
        logger.info("household %s phone %s", {"head_of_household_name": "Zebulon Quist"}, "+254799123456")
        try:
            raise ValueError("bad email zeb@example.org")
        except ValueError:
            logger.exception("failed")
    assert "Zebulon" not in caplog.text
    assert "+254799123456" not in caplog.text
    assert "zeb@example.org" not in caplog.text
    assert "ValueError" in caplog.text


@pytest.mark.parametrize("message", ["Creating topic %s", "100%% done: %s"])
def test_a_scrubbed_record_renders_once_through_fausts_text_formatter(message: str) -> None:
    # With DSRS_LOG_FORMAT=text, Faust logs through mode's formatter, which wraps any arguments that are not a
    # tuple into one: arguments of None made every message render as "Creating topic None", or fail.
    install_scrubbing()
    record = logging.getLogRecordFactory()("dsrs.test", logging.INFO, __file__, 1, message, ("dsrs.topic",), None)
    rendered = ExtensionFormatter(fmt="%(message)s").format(record)
    assert rendered.endswith(message % ("dsrs.topic",))
