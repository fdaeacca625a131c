"""For whom a call to another service is made: the service itself, or an end user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rtcc.core.auth import Principal, current_principal


def bearer_of(context: Any) -> str:
    """The bearer token of the gRPC call being served ('' when none): the one parser."""
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            text = value.decode() if isinstance(value, bytes) else str(value)
            if text[:7].lower() == "bearer ":
                return text[7:].strip()
    return ""


@dataclass(frozen=True)
class Caller:
    """Who a client call acts for.

    * ``Caller.service()``: the calling service itself (its channel's service token).
    * ``Caller.user(principal, bearer)``: an end user. With ``bearer`` the peer answers
      *as the user* (their token is forwarded); without it, clients that can ask on
      behalf of an organisation (access checks) do so with the service token.
    """

    principal: Principal | None = None
    bearer: str = ""

    @classmethod
    def service(cls) -> Caller:
        return cls()

    @classmethod
    def user(cls, principal: Principal, bearer: str = "") -> Caller:
        return cls(principal, bearer)

    @classmethod
    def of_call(cls, context: Any) -> Caller:
        """The caller of the gRPC call being served, with its token to forward."""
        return cls(current_principal(), bearer_of(context))

    @property
    def is_service(self) -> bool:
        return self.principal is None or self.principal.is_service()

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Call metadata forwarding the user's token; empty: the channel's service token."""
        return (("authorization", f"Bearer {self.bearer}"),) if self.bearer else ()
