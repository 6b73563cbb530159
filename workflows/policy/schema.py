"""The pipeline's policy: every value a workflow version holds, declared once, with its type, range and unit.

A policy is a JSON object (camelCase keys, as the API):

    {"steps": {"<step>": {"attempts", "backoff": {"baseSeconds", "factor", "capSeconds", "jitter"},
                          "timeoutSeconds", "callBudget", "stateRetries"*, "circuit": {"failures",
                          "coolDownSeconds"}, "bulkhead", "enabled"*}, …},
     "payment": {"confirmationTimeoutSeconds", "reconcileAfterSeconds", "reconcileEveryMinutes"},
     "tracking": {"timeoutSeconds", "askMaxSeconds", "lookupTimeoutSeconds"},
     "holds": {"hours", "expiryAction"}}

The structure is the code's: the steps are the PIPELINE table's, in its order
(`structure_declare`, called by workflows.pipeline); "enabled" belongs to the steps the table
declares optional only, "stateRetries" to the steps whose failed state the pipeline retries.
`policy_clean` checks a whole policy against it and answers field errors keyed by path
("steps.payment.timeoutSeconds"), the same for the admin's form, the API and the YAML import.

Each value applies either to the order (`ORDER`: the version the order was placed under, to its
end, retries and re-drives included) or to what providers share across orders (`SHARED`: the
current version): the circuit and the bulkhead of a provider.
"""
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

ORDER, SHARED = "order", "shared"
HOLD_EXPIRY_ACTIONS = ("remind", "cancel", "approve")


@dataclass(frozen=True)
class Setting:
    """One value of the policy: `key` its path within its section ("backoff.baseSeconds"),
    `kind` int, float, bool or str (one of `choices`), inclusive `minimum`/`maximum`."""

    key: str
    label: str
    kind: type
    help: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    applies: str = ORDER
    only: str = ""  # "optional": optional steps only; "state_retries": steps with a retried failed state


STEP_SETTINGS = (
    Setting("enabled", "Runs", bool, "Off: orders of this version skip the step.", only="optional"),
    Setting("attempts", "Call attempts", int, "Calls one run of the step makes while the provider times out.",
            minimum=1, maximum=10),
    Setting("backoff.baseSeconds", "Backoff", float, "Wait before the second attempt.", "seconds",
            minimum=0, maximum=300),
    Setting("backoff.factor", "Backoff factor", float, "Each further wait is the previous one times this.",
            minimum=1, maximum=10),
    Setting("backoff.capSeconds", "Longest backoff", float, "No wait between attempts is longer.", "seconds",
            minimum=0, maximum=3600),
    Setting("backoff.jitter", "Jitter", float, "Each wait is randomly up to this share shorter or longer "
            "(0.5: ±50%).", minimum=0, maximum=1),
    Setting("timeoutSeconds", "Call timeout", float, "How long one call may take.", "seconds",
            minimum=0.01, maximum=300),
    Setting("callBudget", "Call budget", int, "Calls the step makes in all, over every run, while the provider "
            "times out; then the order is Delayed until staff re-drive it.", minimum=1, maximum=100),
    Setting("stateRetries", "State retries", int, "Times the pipeline tries the step again after the provider "
            "refused (a decline, a failed label) before it gives up.", minimum=0, maximum=10,
            only="state_retries"),
    Setting("circuit.failures", "Circuit failures", int, "Timeouts in a row that open the provider's circuit.",
            minimum=1, maximum=1000, applies=SHARED),
    Setting("circuit.coolDownSeconds", "Circuit cool-down", float, "How long an open circuit waits before one "
            "probe call.", "seconds", minimum=1, maximum=3600, applies=SHARED),
    Setting("bulkhead", "Bulkhead", int, "Calls to the provider at once per worker process.",
            minimum=1, maximum=1000, applies=SHARED),
)

SECTION_SETTINGS = {
    "payment": (
        Setting("confirmationTimeoutSeconds", "Confirmation timeout", int, "How long a pending payment (3-D "
                "Secure, a bank transfer) may wait for the bank before the order fails.", "seconds",
                minimum=1, maximum=7 * 24 * 3600),
        Setting("reconcileAfterSeconds", "Ask the provider after", int, "A payment pending longer than this is "
                "asked about by the reconciliation schedule.", "seconds", minimum=0, maximum=24 * 3600,
                applies=SHARED),
        Setting("reconcileEveryMinutes", "Reconciliation interval", int, "How often the reconciliation schedule "
                "runs.", "minutes", minimum=1, maximum=1440, applies=SHARED),
    ),
    "tracking": (
        Setting("timeoutSeconds", "Carrier silence", float, "How long a shipped order waits for the carrier's "
                "news (since shipping, or its last update) before the store asks the carrier.", "seconds",
                minimum=0, maximum=30 * 24 * 3600),
        Setting("askMaxSeconds", "Longest wait between asks", float, "While the carrier has nothing new, the store "
                "asks again after twice as long each time, at most this long apart.", "seconds", minimum=1,
                maximum=30 * 24 * 3600),
        Setting("lookupTimeoutSeconds", "Lookup timeout", float, "How long one ask of the carrier may take.",
                "seconds", minimum=0.1, maximum=300),
    ),
    "holds": (
        Setting("hours", "Hold deadline", int, "How long a held order waits for a person (a rule may say "
                "otherwise).", "hours", minimum=1, maximum=720),
        Setting("expiryAction", "At the deadline", str, "What happens to a held order at its deadline (a rule may "
                "say otherwise): remind the approvers, cancel it or approve it.", choices=HOLD_EXPIRY_ACTIONS),
    ),
}

SECTION_LABELS = {"payment": "Payment confirmation", "tracking": "Waiting for the carrier", "holds": "Holds for approval"}


@dataclass(frozen=True)
class StepShape:
    """A step as the pipeline's table declares it: `optional` may be switched off by a version;
    `state_retries`: its failed state is retried by the pipeline."""

    name: str
    optional: bool = False
    state_retries: bool = False


_structure: list[StepShape] = []


def structure_declare(shapes: tuple[StepShape, ...]) -> None:
    """The pipeline's steps, in its order (workflows.pipeline declares them as it is imported)."""
    _structure[:] = shapes


def structure() -> tuple[StepShape, ...]:
    return tuple(_structure)


def step_settings(shape: StepShape) -> tuple[Setting, ...]:
    return tuple(setting for setting in STEP_SETTINGS
                 if not setting.only or (setting.only == "optional" and shape.optional)
                 or (setting.only == "state_retries" and shape.state_retries))


def fields() -> Iterator[tuple[str, Setting]]:
    """(path, setting) of every value a policy holds, in the order people read them."""
    for shape in structure():
        for setting in step_settings(shape):
            yield f"steps.{shape.name}.{setting.key}", setting
    for section, settings in SECTION_SETTINGS.items():
        for setting in settings:
            yield f"{section}.{setting.key}", setting


def value_at(policy: dict, path: str) -> Any:
    """The value at `path` ("steps.payment.attempts"); KeyError when it is not there."""
    node: Any = policy
    for part in path.split("."):
        if not isinstance(node, dict):
            raise KeyError(path)
        node = node[part]
    return node


def value_set(policy: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    node = policy
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def merged(base: dict, changes: dict) -> dict:
    """`base` with `changes` laid over it, objects merged key by key (a PATCH)."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def policy_ordered(policy: dict) -> dict:
    """`policy` with its keys in the schema's order (steps in the pipeline's): PostgreSQL keeps a
    JSON object's keys in an order of its own. Keys the schema does not know come last."""
    ordered: dict = {}
    for path, _setting in fields():
        try:
            value_set(ordered, path, value_at(policy, path))
        except (KeyError, TypeError):
            continue
    return merged(ordered, policy)


WHOLE_NUMBER, NUMBER, TRUE_FALSE = "Enter a whole number.", "Enter a number.", "Enter true or false."


def setting_clean(setting: Setting, value: Any) -> Any:
    """`value` as `setting` takes it (a float for a number, an int for a whole number); raises
    ValidationError with the message the admin's form and the API show."""
    if setting.kind is bool:
        if not isinstance(value, bool):
            raise ValidationError(TRUE_FALSE)
        return value
    if setting.kind is str:
        if value not in setting.choices:
            raise ValidationError(f"Choose one of: {', '.join(setting.choices)}.")
        return value
    wrong = WHOLE_NUMBER if setting.kind is int else NUMBER
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(wrong)
    try:
        # inf, nan (a JSON 1e400, YAML's .inf) and an int too large for a float are refused here.
        if not math.isfinite(float(value)):
            raise ValidationError(wrong)
    except OverflowError:
        raise ValidationError(_range(setting)) from None
    if setting.kind is int:
        if value != int(value):
            raise ValidationError(WHOLE_NUMBER)
        value = int(value)
    else:
        value = float(value)
    if setting.minimum is not None and value < setting.minimum:
        raise ValidationError(f"Ensure this value is at least {_number(setting.minimum)}.")
    if setting.maximum is not None and value > setting.maximum:
        raise ValidationError(f"Ensure this value is at most {_number(setting.maximum)}.")
    return value


def _range(setting: Setting) -> str:
    return f"Ensure this value is between {_number(setting.minimum)} and {_number(setting.maximum)}."


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:g}"


def _unknown(policy: Any, expected: dict, prefix: str, errors: dict) -> None:
    """Keys the structure has no place for: each is a field error of its own."""
    if not isinstance(policy, dict):
        return
    for key, value in policy.items():
        path = f"{prefix}{key}"
        if key not in expected:
            if prefix == "steps.":
                names = ", ".join(shape.name for shape in structure())
                errors[path] = [f"The pipeline has no step {key!r}; its steps are {names}."]
            elif prefix.startswith("steps.") and key == "enabled":
                errors[path] = ["This step cannot be switched off: the pipeline does not declare it optional."]
            elif prefix.startswith("steps.") and key == "stateRetries":
                errors[path] = ["The pipeline does not retry this step's failed state."]
            else:
                errors[path] = ["Unknown field."]
        elif isinstance(expected[key], dict):
            if not isinstance(value, dict):
                errors[path] = ["Expected an object."]
            else:
                _unknown(value, expected[key], f"{path}.", errors)


def policy_clean(policy: Any) -> dict:
    """The policy checked against the schema and the pipeline's structure, canonical (every
    value of its type). Raises ValidationError({path: [messages]}) naming every problem."""
    if not isinstance(policy, dict):
        raise ValidationError({"policy": ["Expected an object with steps, payment, tracking and holds."]})
    errors: dict[str, list[str]] = {}
    expected: dict = {}
    clean: dict = {}
    for path, setting in fields():
        value_set(expected, path, setting)
        try:
            value = value_at(policy, path)
        except (KeyError, TypeError):
            errors.setdefault(path, ["This field is required."])
            continue
        try:
            value_set(clean, path, setting_clean(setting, value))
        except ValidationError as exc:
            errors[path] = exc.messages
    _unknown(policy, expected, "", errors)
    if errors:
        raise ValidationError(errors)
    return clean


def policy_diff(old: dict | None, new: dict) -> list[tuple[str, Any, Any]]:
    """(path, old value, new value) of every value that differs, in the schema's order (all of
    them, old None, when there is no `old`)."""
    changes = []
    for path, _setting in fields():
        before = _value_or_none(old, path) if old is not None else None
        after = _value_or_none(new, path)
        if old is None or before != after:
            changes.append((path, before, after))
    return changes


def _value_or_none(policy: dict, path: str) -> Any:
    try:
        return value_at(policy, path)
    except (KeyError, TypeError):
        return None


def path_label(path: str) -> str:
    """How people read a path: "payment step: Call timeout", "Holds for approval: Hold deadline"."""
    parts = path.split(".")
    if parts[0] == "steps":
        setting = next(s for s in STEP_SETTINGS if s.key == ".".join(parts[2:]))
        return f"{parts[1]} step: {setting.label}"
    setting = next(s for s in SECTION_SETTINGS[parts[0]] if s.key == ".".join(parts[1:]))
    return f"{SECTION_LABELS[parts[0]]}: {setting.label}"


def setting_of(path: str) -> Setting:
    return dict(fields())[path]
