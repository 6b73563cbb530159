"""The order's state diagram with a workflow version's policy: what the pipeline does in each
state under it (orders.diagram draws the transitions; this adds a note per state and draws the
optional steps the version switches off dashed). `manage.py order_diagram` writes version 1's
(fixtures/workflow.yaml) to docs/state-diagram.md; the admin shows each version's."""
from orders.diagram import order_diagram
from workflows.pipeline import PIPELINE, RetryOrCompensate, Step
from workflows.policy.values import Policy, StepPolicy


def _seconds(value: float) -> str:
    return f"{value:g} s"


def step_note(name: str, step: StepPolicy) -> str:
    """One line (Mermaid takes no semicolon in a note): "payment: 3 attempts of 30 s, backoff 1 s ×2
    up to 60 s ±50%, budget 3 · circuit 5 timeouts, 15 s · bulkhead 16"."""
    return (f"{name}: {step.attempts} attempt{'s' if step.attempts != 1 else ''} of {_seconds(step.timeout)}, "
            f"backoff {_seconds(step.base)} ×{step.factor:g} up to {_seconds(step.cap)} ±{step.jitter:.0%}, "
            f"budget {step.call_budget} · circuit {step.failures} timeouts, {_seconds(step.cool_down)} · "
            f"bulkhead {step.bulkhead}")


def policy_notes(policy: Policy) -> tuple[dict[str, str], frozenset[str]]:
    """({state: what the policy does there}, the states of optional steps it switches off)."""
    notes: dict[str, str] = {}
    skipped = set()
    for state, stage in PIPELINE.items():
        if isinstance(stage, Step):
            step = policy.step(stage.step)
            if stage.optional is not None and not step.enabled:
                notes[state] = f"{stage.step}: switched off (orders go past it: {stage.optional.fire})"
                skipped.add(state)
                continue
            notes[state] = step_note(stage.step, step)
            if state == "paying":
                notes[state] += f" · a pending payment waits {_seconds(policy.confirmation_timeout)}"
        elif isinstance(stage, RetryOrCompensate):
            retries = policy.step(stage.step).state_retries
            notes[state] = f"{retries} automatic retr{'y' if retries == 1 else 'ies'}, then the compensation"
    notes["shipped"] = (f"waits {_seconds(policy.tracking_timeout)} for the carrier's news, then asks it "
                        f"(lookups of {_seconds(policy.tracking_lookup_timeout)}), again up to "
                        f"{_seconds(policy.tracking_ask_max)} apart")
    notes["awaiting_approval"] = f"hold {policy.hold_hours} h, then {policy.hold_expiry_action} (unless its rule says)"
    return notes, frozenset(skipped)


def policy_diagram(policy: Policy, *, name: str) -> str:
    """The Markdown page of the diagram under `policy` (`name`: "workflow version 3")."""
    notes, skipped = policy_notes(policy)
    return order_diagram(notes=notes, skipped=skipped, policy=name)
