"""Requests and tokens per minute per key, in a sliding 60-second window every gateway
process shares: the store's windows (SQLite or PostgreSQL), or Redis when configured.

A request is admitted with its estimated tokens and corrected to the real count when it
ends. With `--workers N` or several replicas, a key's limit is one limit for all of them.
"""

from __future__ import annotations

import math

from mixstack.errors import RateLimited
from mixstack.store.rates import WINDOW_S, RateRepository, RateVerdict

__all__ = ["RateLimiter", "Ticket"]


class Ticket:
    """One admitted request in a key's window; `settle` replaces its token estimate."""

    __slots__ = ("admitted", "key_id", "repo", "tokens")

    def __init__(
        self, repo: RateRepository | None, key_id: str, admitted: RateVerdict | None, tokens: int
    ):
        self.repo = repo
        self.key_id = key_id
        self.admitted = admitted
        self.tokens = tokens

    def settle(self, tokens: int) -> None:
        if self.repo is not None and self.admitted is not None and tokens != self.tokens:
            self.repo.settle(self.key_id, self.admitted, tokens)
        self.tokens = tokens


class RateLimiter:
    def __init__(self, repo: RateRepository):
        self.repo = repo

    async def admit(self, key_id: str, *, rpm: int | None, tpm: int | None, tokens: int) -> Ticket:
        """Admit one request or raise `RateLimited` with the seconds until it would fit."""
        if rpm is None and tpm is None:
            return Ticket(None, key_id, None, tokens)
        self.check(key_id, tpm, tokens)
        verdict = await self.repo.admit(key_id, rpm, tpm, tokens)
        return self.ticket(key_id, verdict, rpm=rpm, tpm=tpm, tokens=tokens)

    @staticmethod
    def check(key_id: str, tpm: int | None, tokens: int) -> None:
        """Refuse a request alone over `tpm`: no wait would let it through, so say what to
        change (the windows leave this to their caller)."""
        if tpm is not None and tokens > tpm:
            raise RateLimited(
                f"this request needs about {tokens} tokens, more than key {key_id}'s limit of "
                f"{tpm} tokens per minute; send a shorter prompt or lower max_tokens.",
                retry_after_s=WINDOW_S,
            )

    def ticket(
        self, key_id: str, verdict: RateVerdict, *, rpm: int | None, tpm: int | None, tokens: int
    ) -> Ticket:
        """The ticket of an admitted request (`tokens`: what its entry counts now), or
        `RateLimited` with the seconds until it would fit."""
        if verdict.event is not None:
            return Ticket(self.repo, key_id, verdict, tokens)
        wait = math.ceil(verdict.retry_after_s)
        if verdict.reason == "rpm":
            raise RateLimited(
                f"key {key_id} is over its limit of {rpm} requests per minute; "
                f"retry after {wait} s.",
                retry_after_s=verdict.retry_after_s,
            )
        raise RateLimited(
            f"key {key_id} is over its limit of {tpm} tokens per minute "
            f"({verdict.window_tokens} used, this request needs about {tokens}); "
            f"retry after {wait} s or lower max_tokens.",
            retry_after_s=verdict.retry_after_s,
        )
