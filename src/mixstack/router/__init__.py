"""Routing: which model answers a request, with an explanation that travels with it."""

from mixstack.router.decision import Exclusion, RouteDecision, RouteRefused
from mixstack.router.router import OFFLINE_ENV, Router, offline_mode

__all__ = ["OFFLINE_ENV", "Exclusion", "RouteDecision", "RouteRefused", "Router", "offline_mode"]
