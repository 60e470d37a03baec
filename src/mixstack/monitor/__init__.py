"""Abuse monitoring: injection and jailbreak screening at the gateway, canary tokens, rolling
per-key and per-workload baselines with alerts (log, metrics, store, webhook)."""

from mixstack.monitor._baseline import Alert, Baselines, Observation
from mixstack.monitor._canary import Canary
from mixstack.monitor._detect import Inspection, inspect_request
from mixstack.monitor._gateway import GatewayMonitor, Screened

__all__ = [
    "Alert",
    "Baselines",
    "Canary",
    "GatewayMonitor",
    "Inspection",
    "Observation",
    "Screened",
    "inspect_request",
]
