"""What the pages depend on: the signed-in principal, the incident policy, role checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.auth.models import Principal, Role
from app.deps import current_principal
from app.errors import Forbidden
from app.incidents.policy import IncidentPolicy
from app.incidents.views import get_policy

Who = Annotated[Principal, Depends(current_principal)]
Policy = Annotated[IncidentPolicy, Depends(get_policy)]


def need(who: Principal, *roles: Role, what: str) -> None:
    if who.role not in {r.value for r in roles}:
        allowed = " or ".join(r.value for r in roles)
        raise Forbidden(f"{what} is for the {allowed} role; you are signed in as {who.role}")
