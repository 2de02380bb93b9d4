"""Realistic bot traffic for `o2-provision demo`: real Pipecat sessions with some slow and failing turns."""

from __future__ import annotations

from dataclasses import dataclass

from provision.config import Settings
from provision.demo.bot import SessionResult, run_session
from provision.demo.fakes.openai import FakeOpenAI
from provision.errors import InputError


@dataclass(frozen=True)
class TrafficPlan:
    """How many sessions and turns, and which turns are slow or fail (counted from the last)."""

    sessions: int
    turns: int
    slow: int
    fail: int
    slow_seconds: float
    model: str = "gpt-4o-mini"

    def call_numbers(self) -> tuple[list[int], list[int]]:
        """Chat call numbers (from 1, one per turn) that are slow and that fail.

        Failures go to the last turns of the run and slow turns just before them, so each turn is at
        most one of the two and the first turns show the healthy baseline.
        """
        total = self.sessions * self.turns
        fail = list(range(total - self.fail + 1, total + 1))
        slow = list(range(total - self.fail - self.slow + 1, total - self.fail + 1))
        return slow, fail


async def run_traffic(plan: TrafficPlan, *, user_id: str | None = "demo-user") -> list[SessionResult]:
    """Run the sessions one after another against a local fake LLM; return what each did."""
    slow, fail = plan.call_numbers()
    async with FakeOpenAI(slow_calls=slow, fail_calls=fail, slow_ttft=plan.slow_seconds) as fake:
        return [
            await run_session(fake.base_url, turns=plan.turns, user_id=user_id, model=plan.model)
            for _ in range(plan.sessions)
        ]


def slow_turns_of(plan: TrafficPlan, results: list[SessionResult]) -> set[tuple[str | None, int]]:
    """(session id, turn number) of the turns the plan made slow."""
    slow, _ = plan.call_numbers()
    return {
        (result.session_id, turn.number)
        for index, result in enumerate(results)
        for turn in result.turns
        if index * plan.turns + turn.number in slow
    }


def trace_traffic(settings: Settings, stream: str, plan: TrafficPlan) -> list[SessionResult]:
    """Run the plan with the instrumentation sending every turn to the O2 of the settings."""
    import asyncio

    from instrumentation import setup_openobserve

    if settings.authorization is None:
        raise InputError("OPENOBSERVE_AUTH_TOKEN is not set")
    provider = setup_openobserve(
        url=settings.url,
        org=settings.org,
        auth_token=settings.authorization.reveal(),
        stream=stream,
        service_name="pipecat-demo-bot",
        load_env_file=False,
    )
    results = asyncio.run(run_traffic(plan))
    provider.force_flush()
    return results
