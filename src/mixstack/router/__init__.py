"""Routing: which model answers a request, with an explanation that travels with it."""

from mixstack.router._decision import Exclusion, Routed, RouteDecision, RouteRefused
from mixstack.router._router import OFFLINE_ENV, Router, offline_mode

__all__ = [
    "OFFLINE_ENV",
    "Exclusion",
    "RouteDecision",
    "RouteRefused",
    "Routed",
    "Router",
    "offline_mode",
]
