"""The guard: what may leave the machine. PII and secret detection, reversible redaction.

Importing this package is cheap: Presidio loads only when a text has a candidate finding.
"""

from mixstack.guard._pii import PiiCount, PiiScanner, PiiSpan, RequestScan, scan_request
from mixstack.guard._redact import ChunkRestorer, RedactionMap, StreamRestorer, redact_request

__all__ = [
    "ChunkRestorer",
    "PiiCount",
    "PiiScanner",
    "PiiSpan",
    "RedactionMap",
    "RequestScan",
    "StreamRestorer",
    "redact_request",
    "scan_request",
]
