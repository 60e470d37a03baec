"""Who may call the gateway: virtual keys, failing closed, and the admin role.

    auth: off        nobody needs a key (the operator said so)
    auth: auto       keys are needed as soon as one has ever been created; revoking or
                     letting every key expire never opens the gateway again
    auth: required   a key is always needed (no key yet: every request gets 401)

Admin-only endpoints (`/metrics`, `/health?details`, the dashboard) need a key created with
`mixstack keys create --admin` whenever keys are enforced; a non-admin key gets 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from mixstack.config.gateway import AuthMode
from mixstack.errors import AdminRequired, MixstackError
from mixstack.gateway._errors import error_response
from mixstack.guard._keys import KeyRejected, KeyStore, VirtualKey

__all__ = ["AdminRequired", "Authenticator", "bearer_token"]

Endpoint = Callable[[HttpRequest], Awaitable[Response]]


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: Bearer …` or `x-api-key` (Anthropic's SDK sends that)."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return headers.get("x-api-key") or None


class Authenticator:
    """The gateway's one answer to "who is calling, and may they": fails closed."""

    def __init__(self, keys: KeyStore, mode: AuthMode):
        self.keys = keys
        self.mode = mode

    async def enforced(self) -> bool:
        """Whether requests need a key right now."""
        if self.mode == "off":
            return False
        return self.mode == "required" or await self.keys.aany_ever()

    async def authenticate(self, headers: Mapping[str, str]) -> VirtualKey | None:
        """The caller's key; None only when keys are not enforced. Raises `KeyRejected`."""
        token = bearer_token(headers)
        if not await self.enforced():
            # a known key is honoured even while the gateway looks open: under `auto`, a
            # process that last saw no keys (cached for `cache_s`) must not serve a key that
            # another process just created without its budget and limits
            known = None if token is None or self.mode == "off" else await self.keys.alookup(token)
            if known is None:
                return None
            self.keys.note_exists()
            return self._usable(known)
        if not token:
            raise KeyRejected(
                "this gateway needs an API key; send `Authorization: Bearer <key>` "
                "(an admin creates one with `mixstack keys create`)."
            )
        key = await self.keys.alookup(token)
        if key is None:
            raise KeyRejected(
                "invalid API key; check the key or ask an admin for one (`mixstack keys create`)."
            )
        return self._usable(key)

    @staticmethod
    def _usable(key: VirtualKey) -> VirtualKey:
        """The key, unless it is revoked or expired (`KeyRejected` says which)."""
        if not key.active:
            raise KeyRejected(
                f"API key {key.id} was revoked; ask an admin for a new key "
                "(`mixstack keys create`)."
            )
        if key.expired():
            raise KeyRejected(
                f"API key {key.id} has expired; ask an admin for a new key "
                "(`mixstack keys create --expires …`)."
            )
        return key

    async def require_admin(self, headers: Mapping[str, str], what: str = "this endpoint") -> None:
        """Raise unless the caller holds an admin key (or keys are not enforced at all)."""
        key = await self.authenticate(headers)
        if key is not None and not key.admin:
            raise AdminRequired(key.id, what)

    async def is_admin(self, headers: Mapping[str, str]) -> bool:
        """Whether the caller may see admin details (False instead of an error)."""
        try:
            await self.require_admin(headers)
        except MixstackError:
            return False
        return True

    def admin_only(self, endpoint: Endpoint, what: str = "this endpoint") -> Endpoint:
        """Wrap a Starlette endpoint so only admin keys reach it (401/403 JSON otherwise)."""

        async def guarded(request: HttpRequest) -> Response:
            try:
                await self.require_admin(request.headers, what)
            except MixstackError as exc:
                return error_response(exc)
            return await endpoint(request)

        return guarded
