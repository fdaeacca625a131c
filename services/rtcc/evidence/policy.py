"""Who may do what with a case. Pure.

The shared policy decides about cameras (a clip or snapshot needs recorded-video
access to its camera, asked through `rtcc.clients.access`); on top of it a case is
visible only inside its organisation, and there only to its creator, its members and
the organisation's admins (`partner-admin`, `platform-admin`). Services act for the
platform and see every case.
"""

from __future__ import annotations

from rtcc.core.auth import Principal
from rtcc.core.errors import NotFound, PermissionDenied

ADMIN_ROLES = ("partner-admin", "platform-admin")
WRITER_ROLES = ("investigator", "operator", *ADMIN_ROLES)


def is_admin(who: Principal, org_id: str) -> bool:
    if "platform-admin" in who.roles:
        return True
    return who.org_id == org_id and "partner-admin" in who.roles


def can_see(who: Principal, org_id: str, creator: str, members: list[str]) -> bool:
    if who.is_service():
        return True
    if who.org_id != org_id:
        return False
    return who.subject == creator or who.subject in members or is_admin(who, org_id)


def require_see(
    who: Principal, case_id: str, org_id: str, creator: str, members: list[str]
) -> None:
    """NotFound (never PermissionDenied: the case's existence is not revealed)."""
    if not can_see(who, org_id, creator, members):
        raise NotFound(f"case {case_id} does not exist or you are not a member of it")


def require_writer(who: Principal) -> None:
    if who.is_service():
        return
    if not who.has_any_role(*WRITER_ROLES):
        raise PermissionDenied(
            f"changing evidence needs one of the roles {', '.join(WRITER_ROLES)}; "
            f"{who.subject} has {', '.join(sorted(who.roles)) or 'none'}"
        )


def require_second_person(subject: str, placed_by: str) -> None:
    """A hold is released by a second authorised person, never by the one who placed it."""
    if subject == placed_by:
        raise PermissionDenied(
            f"the legal hold was placed by {placed_by}; releasing it needs a second "
            "authorised person (a case member or an admin other than the one who placed it)"
        )
