"""Who may operate ingest itself (leases, retention): platform services and admins."""

from __future__ import annotations

from rtcc.core.auth import Principal
from rtcc.core.errors import PermissionDenied


def require_operator(principal: Principal) -> None:
    """Lease and retention operations: the platform's own services and its admins."""
    if not (principal.is_service() or principal.has_any_role("platform-admin")):
        raise PermissionDenied("only platform services and platform admins may do this")
