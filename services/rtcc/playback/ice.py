"""Process-wide ICE tuning for aiortc's ICE library (aioice).

aioice offers no per-connection hooks for these, so playback sets them once at
start-up:
- aioice never gathers 127.0.0.1; on a single machine (laptop, tests, a kiosk on
  the server) the browser then has no way to reach us. We add loopback host
  candidates; a remote peer simply fails those checks and uses the others.
- Consent freshness (RFC 7675) decides how soon a viewer that vanished without a
  DELETE is noticed. aioice's default is 6 missed checks 5 s apart (30 s); we check
  every second and give up after 3 misses, so the session closes within seconds.
"""

from __future__ import annotations

from collections.abc import Callable

import aioice.ice

_original: Callable[[bool, bool], list[str]] = aioice.ice.get_host_addresses


def _with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    addresses = _original(use_ipv4, use_ipv6)
    if use_ipv4 and "127.0.0.1" not in addresses:
        addresses.append("127.0.0.1")
    return addresses


def configure_ice(
    *, loopback: bool = True, consent_interval_s: int = 1, consent_failures: int = 3
) -> None:
    aioice.ice.get_host_addresses = _with_loopback if loopback else _original  # type: ignore[assignment]
    aioice.ice.CONSENT_INTERVAL = consent_interval_s
    aioice.ice.CONSENT_FAILURES = consent_failures
