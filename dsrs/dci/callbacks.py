"""Callback URLs (`sender_uri`): http(s) only, and where the settings say so (staging, production), never a
loopback, private, link-local or otherwise non-public address, checked again before each delivery so that a
name that later resolves inward is refused too (SSRF)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from dsrs.dci.errors import SENDER_URI_INVALID, DciError

MAX_URL_LENGTH = 2000


def _refused(why: str) -> DciError:
    return DciError(SENDER_URI_INVALID, f"sender_uri {why}")


def url_host(url: str) -> str:
    """The URL's host, once its form is acceptable: http(s), a host, no credentials, no control characters."""
    if len(url) > MAX_URL_LENGTH or any(ord(character) < 33 or ord(character) == 127 for character in url):
        raise _refused("must be a plain URL of at most 2000 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refused("is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refused("must be an http or https URL with a host")
    if parts.username is not None or parts.password is not None:
        raise _refused("must not hold credentials")
    del port
    return parts.hostname


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def _addresses(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        raise _refused("names a host that does not resolve") from None
    return [str(info[4][0]) for info in found]


async def check_callback_url(url: str, may_be_private: bool) -> None:
    """Raise err.sender_uri.invalid unless DSRS may call `url` back."""
    host = url_host(url)
    if may_be_private:
        return
    addresses = await _addresses(host)
    if not addresses or not all(is_public(address) for address in addresses):
        raise _refused("must reach a public address")
