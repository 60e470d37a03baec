"""Who may see `/ui`: holders of an admin key, by bearer header or by a login cookie.

The browser logs in once with its admin key (`/ui/login`); the key is kept in an HttpOnly,
SameSite=Strict cookie scoped to `/ui`, so forms on the dashboard carry it and other sites'
pages cannot. Every page and form checks it again (a revoked key is out within the key
cache's few seconds).
"""

from __future__ import annotations

from starlette.requests import Request

from mixstack.guard._keys import KeyStore, VirtualKey

__all__ = ["COOKIE", "admin_key", "is_admin"]

COOKIE = "mixstack_admin"


def is_admin(key: VirtualKey) -> bool:
    """An active admin key (`mixstack keys create --admin`) that has not expired."""
    return key.admin and key.active and not key.expired()


async def admin_key(request: Request, keys: KeyStore) -> VirtualKey | None:
    """The admin key this request carries (header or cookie), or None."""
    token = request.cookies.get(COOKIE)
    auth = request.headers.get("authorization", "")
    scheme, _, bearer = auth.partition(" ")
    if scheme.lower() == "bearer" and bearer.strip():
        token = bearer.strip()
    if not token:
        return None
    key = await keys.alookup(token)
    if key is None or not is_admin(key):
        return None
    return key
