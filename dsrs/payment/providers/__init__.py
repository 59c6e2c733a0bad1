"""Payment provider adapters, chosen by name with DSRS_PAYMENT_PROVIDER.

Each adapter implements `base.PaymentProvider`; an adapter is added by writing its module beside
`simulated.py` and naming its constructor in `PROVIDERS`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.payment.providers.base import PaymentProvider
from dsrs.payment.providers.simulated import SimulatedProvider
from dsrs.settings import Settings


class UnknownProvider(ValueError):
    """DSRS_PAYMENT_PROVIDER names no adapter."""


def _simulated(settings: Settings, engine: AsyncEngine) -> PaymentProvider:
    return SimulatedProvider(engine, settings.provider_latency_seconds, settings.provider_failure_rate)


PROVIDERS: dict[str, Callable[[Settings, AsyncEngine], PaymentProvider]] = {"simulated": _simulated}


def create_provider(settings: Settings, engine: AsyncEngine) -> PaymentProvider:
    try:
        factory = PROVIDERS[settings.payment_provider]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise UnknownProvider(f"DSRS_PAYMENT_PROVIDER={settings.payment_provider!r}: expected one of {known}") from None
    return factory(settings, engine)
