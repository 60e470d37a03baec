"""Reasoning audit: does a model's reasoning actually support its answer?

audit_trace(question, output, expected=…) -> TraceAudit   one trace, rule-based checks
summarize(audits) -> dict                                  per-model figures
load_traces(path) -> list[TraceInput]                      a JSONL file of traces
judge_trace(pipeline, model, audit, question) -> JudgeReport   optional model judge
"""

from mixstack.audit._audit import JudgeReport, TraceAudit, Verdict, audit_trace
from mixstack.audit._checks import ReferenceAlignment, StepError
from mixstack.audit._extract import Reasoning, extract_reasoning
from mixstack.audit._judge import JUDGE_RUBRIC, judge_trace
from mixstack.audit._summary import ERROR_KINDS, summarize
from mixstack.audit._traces import TraceInput, load_traces

__all__ = [
    "ERROR_KINDS",
    "JUDGE_RUBRIC",
    "JudgeReport",
    "Reasoning",
    "ReferenceAlignment",
    "StepError",
    "TraceAudit",
    "TraceInput",
    "Verdict",
    "audit_trace",
    "extract_reasoning",
    "judge_trace",
    "load_traces",
    "summarize",
]
