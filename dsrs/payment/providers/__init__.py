"""Payment provider adapters, chosen by name with DSRS_PAYMENT_PROVIDER.

Each adapter implements `base.PaymentProvider`; an adapter is added by writing its module beside
`simulated.py` and naming its constructor in `PROVIDERS`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.payment.providers.base import PaymentProvider
from dsrs.payment.providers.g2p_connect import G2PConnectProvider
from dsrs.payment.providers.g2p_messages import Parties
from dsrs.payment.providers.simulated import SimulatedProvider
from dsrs.settings import Settings


class UnknownProvider(ValueError):
    """DSRS_PAYMENT_PROVIDER names no adapter."""


def _simulated(settings: Settings, engine: AsyncEngine) -> PaymentProvider:
    return SimulatedProvider(engine, settings.provider_latency_seconds, settings.provider_failure_rate)


def _g2p_connect(settings: Settings, engine: AsyncEngine) -> PaymentProvider:
    assert settings.g2p_url is not None  # Settings refuses g2p-connect without it
    parties = Parties(
        settings.g2p_sender_id, settings.g2p_receiver_id, settings.g2p_callback_url, settings.g2p_payer_fa
    )
    return G2PConnectProvider(
        engine, settings.g2p_url, parties, settings.g2p_access_token, settings.g2p_status_after_seconds
    )


PROVIDERS: dict[str, Callable[[Settings, AsyncEngine], PaymentProvider]] = {
    "simulated": _simulated,
    "g2p-connect": _g2p_connect,
}


def create_provider(settings: Settings, engine: AsyncEngine) -> PaymentProvider:
    try:
        factory = PROVIDERS[settings.payment_provider]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise UnknownProvider(f"DSRS_PAYMENT_PROVIDER={settings.payment_provider!r}: expected one of {known}") from None
    return factory(settings, engine)
