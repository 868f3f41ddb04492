"""archive.identity: users, agencies, roles, API tokens, and who may see which cameras.

- :mod:`.model`: frozen values (:class:`Role`, :class:`Principal`, user and token views).
- :mod:`.policy`: the role -> permission table and camera visibility (owners x agencies).
- :mod:`.tokens`: the token format (shown once, stored as SHA-256).
- :mod:`.service`: :class:`IdentityService` over the catalog (migration 0004).
"""

from __future__ import annotations

from archive.identity.model import IssuedToken, Principal, Role, TokenView, UserView
from archive.identity.policy import ROLE_PERMISSIONS, CameraScope, Permission, allowed, require
from archive.identity.service import IdentityService

__all__ = [
    "ROLE_PERMISSIONS",
    "CameraScope",
    "IdentityService",
    "IssuedToken",
    "Permission",
    "Principal",
    "Role",
    "TokenView",
    "UserView",
    "allowed",
    "require",
]
