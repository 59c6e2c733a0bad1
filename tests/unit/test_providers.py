"""DSRS_PAYMENT_PROVIDER picks the adapter; only a provider DSRS runs itself has its settlements reported."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from dsrs.payment.providers import UnknownProvider, create_provider
from dsrs.payment.providers.base import PaymentOrder, Receipt, ReportsSettlements
from dsrs.payment.providers.simulated import SimulatedProvider
from dsrs.settings import load_settings

ENGINE = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")


class BankTransfer:
    async def submit(self, order: PaymentOrder) -> Receipt:
        return Receipt(order.idempotency_key)


def test_the_simulator_is_the_default_and_reports_its_own_settlements() -> None:
    provider = create_provider(load_settings(), ENGINE)
    assert isinstance(provider, SimulatedProvider)
    assert isinstance(provider, ReportsSettlements)


def test_a_provider_that_settles_through_its_own_integration_is_not_asked_to_report() -> None:
    assert not isinstance(BankTransfer(), ReportsSettlements)


def test_an_unknown_provider_is_refused_with_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSRS_PAYMENT_PROVIDER", "bank-x")
    with pytest.raises(UnknownProvider, match="'bank-x': expected one of g2p-connect, simulated"):
        create_provider(load_settings(), ENGINE)
