"""A team declared in `agents:`: a planner splits the task, workers do it, a critic checks it.

The planner answers with a JSON plan (`steps: [{worker, task, after}]`); steps whose
prerequisites are done run concurrently, each as its own agent with its own workload (so its
own routing, model, tools and permissions) and the results of the steps it depends on handed
over. The critic compares the results with the task and can send steps back with feedback.
Every agent draws on one shared budget; when it runs out the team stops and returns what was
done. Without a planner each worker gets the whole task.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mixstack.agents.budget import BudgetMeter, fit_routed
from mixstack.agents.loop import AgentOutcome, AgentSpec
from mixstack.agents.protocol import ParseError, first_json_object, loads_lenient
from mixstack.agents.tools import AgentTool
from mixstack.agents.trace import TraceRecorder, TraceStep, digest
from mixstack.config.agents import AgentRole, WorkerConfig
from mixstack.errors import MixstackError, PolicyError
from mixstack.tokens import bound_tokens
from mixstack.types import ImagePart, Message, Request, ResponseFormat, SamplingParams

if TYPE_CHECKING:
    from mixstack.agents.runtime import AgentRuntime
    from mixstack.pipeline import Routed

__all__ = ["PlanStep", "Team", "json_budget"]

_MAX_PLAN = 8


@dataclass(slots=True)
class PlanStep:
    index: int
    worker: str
    task: str
    after: list[int] = field(default_factory=list)
    outcome: AgentOutcome | None = None


class _TeamStop(Exception):
    def __init__(self, stopped: str, reason: str):
        super().__init__(reason)
        self.stopped = stopped
        self.reason = reason


class Team:
    def __init__(
        self,
        runtime: AgentRuntime,
        tools: list[AgentTool],
        meter: BudgetMeter,
        trace: TraceRecorder,
    ):
        self.runtime = runtime
        self.config = runtime.config.agents
        self.workers = {w.name: w for w in self.config.workers}
        self.tools = tools
        self.meter = meter
        self.trace = trace
        for worker in self.config.workers:  # unknown tool names fail before anything runs
            runtime.select_tools(tools, worker.tools, f"agents.workers[{worker.name}]")

    async def run(self, task: str, images: tuple[ImagePart, ...] = ()) -> AgentOutcome:
        steps: list[PlanStep] = []
        try:
            steps = await self._plan(task)
            await self._execute(steps, steps, images, feedback="")
            critic = self.config.critic
            rounds = critic.max_rounds if critic else 0
            for _ in range(rounds):
                assert critic is not None
                redo, feedback = await self._critique(task, steps, critic)
                if not redo:
                    break
                for step in redo:
                    self.trace.add(
                        TraceStep(
                            kind="handoff",
                            agent="critic",
                            preview=f"critic → {step.worker} (step {step.index}): {feedback}",
                            detail={"from": "critic", "to": step.worker, "step": step.index},
                        )
                    )
                await self._execute(redo, steps, images, feedback=feedback)
        except _TeamStop as stop:
            self.trace.add(TraceStep(kind="stop", agent="team", error=stop.reason, ok=False))
            return self._outcome(steps, stop.stopped, stop.reason)
        return self._outcome(steps, None, None)

    # -- planning -----------------------------------------------------------------------

    async def _plan(self, task: str) -> list[PlanStep]:
        planner = self.config.planner
        if planner is None or len(self.workers) == 1:
            steps = [PlanStep(i, name, task) for i, name in enumerate(self.workers)]
            self._record_plan(steps, "no planner: every worker gets the task")
            return steps
        roster = "\n".join(
            f"- {w.name}: {w.description or w.instructions or 'a worker'}"
            for w in self.config.workers
        )
        system = (
            (planner.instructions.strip() + "\n\n" if planner.instructions.strip() else "")
            + "You split a task into steps for workers. Reply with one JSON object: "
            '{"steps": [{"worker": "<name>", "task": "<what this worker must do>", '
            '"after": [<indexes of earlier steps whose results it needs>]}]}\n'
            f"Workers:\n{roster}"
        )
        schema = {
            "type": "object",
            "properties": {
                "steps": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "worker": {"enum": list(self.workers)},
                            "task": {"type": "string", "maxLength": _STEP_TASK_CHARS},
                            "after": {
                                "type": "array",
                                "items": {"type": "integer"},
                                "maxItems": _MAX_STEPS,
                            },
                        },
                        "required": ["worker", "task"],
                    },
                    "maxItems": min(_MAX_STEPS, 2 * len(self.workers)),
                }
            },
            "required": ["steps"],
        }
        data = await self._ask_json("planner", planner, system, task, schema, kind="plan")
        steps, note = self._steps_from(data, task)
        self._record_plan(steps, note)
        return steps

    def _steps_from(self, data: dict[str, Any] | None, task: str) -> tuple[list[PlanStep], str]:
        fallback = [PlanStep(0, next(iter(self.workers)), task)]
        if data is None or not isinstance(data.get("steps"), list):
            return fallback, "the plan could not be read: the first worker gets the task"
        steps: list[PlanStep] = []
        for raw in data["steps"][:_MAX_PLAN]:
            if not isinstance(raw, dict):
                continue
            worker, sub = raw.get("worker"), raw.get("task")
            if worker not in self.workers or not isinstance(sub, str) or not sub.strip():
                continue
            index = len(steps)
            after = [a for a in raw.get("after") or [] if isinstance(a, int) and 0 <= a < index]
            steps.append(PlanStep(index, str(worker), sub.strip(), sorted(set(after))))
        if not steps:
            return fallback, "the plan named no known worker: the first worker gets the task"
        return steps, f"{len(steps)} step(s) planned"

    def _record_plan(self, steps: list[PlanStep], note: str) -> None:
        self.trace.add(
            TraceStep(
                kind="plan",
                agent="planner",
                preview=note,
                detail={
                    "steps": [
                        {"index": s.index, "worker": s.worker, "task": s.task, "after": s.after}
                        for s in steps
                    ]
                },
            )
        )

    # -- working ------------------------------------------------------------------------

    async def _execute(
        self,
        todo: list[PlanStep],
        plan: list[PlanStep],
        images: tuple[ImagePart, ...],
        *,
        feedback: str,
    ) -> None:
        pending = {s.index for s in todo}
        for step in todo:
            step.outcome = None
        while pending:
            ready = [
                plan[i]
                for i in sorted(pending)
                if all(plan[a].outcome is not None for a in plan[i].after)
            ]
            if not ready:  # a cycle cannot occur (`after` points backwards); stay safe anyway
                ready = [plan[min(pending)]]
            if self.config.parallel:
                await _all_or_none([self._work(s, plan, images, feedback) for s in ready])
            else:
                for s in ready:
                    await self._work(s, plan, images, feedback)
            pending -= {s.index for s in ready}
            for s in ready:
                assert s.outcome is not None
                if s.outcome.stopped in ("budget", "refused"):
                    raise _TeamStop(s.outcome.stopped, s.outcome.reason)

    async def _work(
        self,
        step: PlanStep,
        plan: list[PlanStep],
        images: tuple[ImagePart, ...],
        feedback: str,
    ) -> None:
        worker: WorkerConfig = self.workers[step.worker]
        task = step.task
        handed = [plan[a] for a in step.after if plan[a].outcome is not None]
        if handed:
            lines = [f"- {p.worker}: {p.outcome.result if p.outcome else ''}" for p in handed]
            task += "\n\nResults of earlier steps:\n" + "\n".join(lines)
        if feedback:
            task += f"\n\nA reviewer sent this back with feedback: {feedback}"
        self.trace.add(
            TraceStep(
                kind="handoff",
                agent="planner",
                preview=f"→ {worker.name} (step {step.index}): {task}",
                detail={
                    "from": "planner",
                    "to": worker.name,
                    "step": step.index,
                    "after": step.after,
                },
            )
        )
        spec = AgentSpec(
            name=worker.name,
            model=worker.model,
            workload=worker.workload,
            instructions=worker.instructions,
            max_steps=worker.max_steps or self.config.max_steps,
            max_tokens=worker.max_tokens,
        )
        tools = self.runtime.select_tools(
            self.tools, worker.tools, f"agents.workers[{worker.name}]"
        )
        agent = self.runtime.agent(spec, tools, self.meter, self.trace)
        step.outcome = await agent.run(task, images)

    # -- reviewing ----------------------------------------------------------------------

    async def _critique(
        self, task: str, plan: list[PlanStep], critic: AgentRole
    ) -> tuple[list[PlanStep], str]:
        results = "\n".join(
            f"[{s.index}] {s.worker}: {s.task}\n    result: {s.outcome.result if s.outcome else ''}"
            for s in plan
        )
        system = (
            (critic.instructions.strip() + "\n\n" if critic.instructions.strip() else "")
            + "You check whether the results answer the task. Reply with one JSON object: "
            '{"verdict": "accept" or "revise", "feedback": "<what is wrong>", '
            '"redo": [<indexes of steps to redo>]}'
        )
        schema = {
            "type": "object",
            "properties": {
                "verdict": {"enum": ["accept", "revise"]},
                "feedback": {"type": "string", "maxLength": 400},
                "redo": {"type": "array", "items": {"type": "integer"}},
            },
            "required": ["verdict"],
        }
        prompt = f"Task: {task}\n\nResults:\n{results}"
        data = await self._ask_json("critic", critic, system, prompt, schema, kind="critic")
        if data is None or data.get("verdict") != "revise":
            return [], ""
        wanted = [i for i in data.get("redo") or [] if isinstance(i, int) and 0 <= i < len(plan)]
        redo = [plan[i] for i in sorted(set(wanted))] or list(plan)
        return redo, str(data.get("feedback") or "the reviewer asked for another attempt")

    async def _fit(self, request: Request) -> Routed:
        """Route the request once, its answer length lowered to what the run's budget
        covers, or stop the team."""
        pipeline = self.runtime.pipeline
        fitted, reason = await fit_routed(pipeline, self.meter, await pipeline.route(request))
        if reason is not None:
            raise _TeamStop("budget", reason)
        return fitted

    async def _ask_json(
        self,
        role: str,
        cfg: AgentRole,
        system: str,
        prompt: str,
        schema: dict[str, Any],
        *,
        kind: str,
    ) -> dict[str, Any] | None:
        """One JSON answer from a planner or critic (one repair retry); None if unreadable."""
        messages = [Message.system(system), Message.user(prompt)]
        limit = json_budget(cfg, kind)
        for attempt in range(2):
            reason = self.meter.exhausted()
            if reason is not None:
                raise _TeamStop("budget", reason)
            request = Request(
                messages=tuple(messages),
                model=cfg.model or self.runtime.model,
                workload=cfg.workload or self.runtime.workload,
                params=SamplingParams(max_tokens=limit, temperature=0.0, seed=0),
                response_format=ResponseFormat(type="json_schema", json_schema=schema, name=kind),
                metadata={"agent": role, "trace_id": self.trace.id},
            )
            routed = await self._fit(request)
            started = time.perf_counter()
            try:
                completion = await self.runtime.pipeline.complete(
                    routed.request, front_door="agent", routed=routed
                )
            except MixstackError as exc:
                self.trace.add(
                    TraceStep(
                        kind=kind,
                        agent=role,
                        ok=False,
                        error=exc.message,
                        latency_ms=(time.perf_counter() - started) * 1000,
                    )
                )
                raise _TeamStop(
                    "refused" if isinstance(exc, PolicyError) else "error", exc.message
                ) from exc
            usage = completion.usage
            self.meter.charge(tokens=usage.total_tokens, usd=usage.cost_usd, steps=1)
            data, error = _read_json(completion.text)
            self.trace.add(
                TraceStep(
                    kind=kind,
                    agent=role,
                    model=completion.model,
                    request_id=completion.request_id,
                    route=completion.route,
                    messages_digest=digest(json.dumps([m.text for m in messages])),
                    ok=data is not None,
                    output_digest=digest(completion.text),
                    preview=completion.text,
                    error=error,
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                    cost_usd=usage.cost_usd,
                    latency_ms=usage.latency_ms,
                    detail={"attempt": attempt + 1},
                )
            )
            if data is not None:
                return data
            if completion.finish_reason == "length":
                # cut short, not malformed: the same budget would cut it again
                error = f"the reply was cut at {limit} tokens"
                limit *= 2
            messages += [
                Message.assistant(completion.text or "(empty)"),
                Message.user(f"That could not be read ({error}). Reply with the JSON object only."),
            ]
        return None

    # -- result -------------------------------------------------------------------------

    def _outcome(
        self, steps: list[PlanStep], stopped: str | None, reason: str | None
    ) -> AgentOutcome:
        done = [s for s in steps if s.outcome is not None]
        tool_calls = [c for s in done if s.outcome for c in s.outcome.tool_calls]
        if len(done) == 1 and done[0].outcome is not None:
            result = done[0].outcome.result
        else:
            result = "\n".join(f"{s.worker}: {s.outcome.result}" for s in done if s.outcome)
        if stopped is None:
            unfinished = [s for s in done if s.outcome and s.outcome.stopped != "answer"]
            if unfinished and unfinished[0].outcome is not None:
                first = unfinished[0].outcome
                stopped = first.stopped
                reason = f"{unfinished[0].worker}: {first.reason}"
            else:
                stopped, reason = "answer", f"{len(done)} step(s) answered"
        return AgentOutcome(
            result=result,
            stopped=stopped,
            reason=reason or "",
            tool_calls=tool_calls,
            model_calls=sum(s.outcome.model_calls for s in done if s.outcome),
        )


async def _all_or_none(jobs: list[Coroutine[Any, Any, None]]) -> None:
    """Run the jobs concurrently; if one fails, cancel the others before re-raising."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


#: a plan holds at most this many steps, each task at most this many characters; with the
#: JSON around them that bounds the planner's reply (`json_budget`)
_MAX_STEPS = 6
_STEP_TASK_CHARS = 240


def json_budget(cfg: AgentRole, kind: str) -> int:
    """Tokens a planner or critic reply may take. A plan of `_MAX_STEPS` steps of
    `_STEP_TASK_CHARS` characters takes at most 6 × (240 + 20) + 20 = 1,580 tokens by the
    one token counter's worst case (`tokens.bound_tokens`: small models' tokenizers need
    about a token a character on CJK text; the 256 of a worker turn cut plans short). The
    reply ends with its JSON object, so the bound costs nothing unless a model runs on. An
    explicit `max_tokens` in the config is kept."""
    if "max_tokens" in cfg.model_fields_set:
        return cfg.max_tokens
    task = bound_tokens("x" * _STEP_TASK_CHARS)
    needed = _MAX_STEPS * (task + 20) + 20 if kind == "plan" else 320
    return max(cfg.max_tokens, needed)


def _read_json(text: str) -> tuple[dict[str, Any] | None, str | None]:
    candidate = first_json_object(text)
    if candidate is None:
        return None, "no JSON object in the reply"
    try:
        data, _ = loads_lenient(candidate)
    except ParseError as exc:
        return None, str(exc)
    if not isinstance(data, dict):
        return None, "the reply is not a JSON object"
    return data, None
