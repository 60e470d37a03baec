"""Routing: which model answers a request, with an explanation that travels with it."""

from mixstack.router.decision import Exclusion, RouteDecision
from mixstack.router.router import Router

__all__ = ["Exclusion", "RouteDecision", "Router"]
