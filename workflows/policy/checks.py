"""System check: environment variables that name a value of the pipeline's policy are not read.

The policy is the workflow version's (docs/workflow.md); a variable such as PAYMENT_TIMEOUT in a
deploy's environment changes nothing, so `manage.py check` (and `migrate`) says so instead of
leaving an operator to believe it did."""
import os

from django.core import checks

from workflows.policy.schema import structure

NOT_READ = ("PIPELINE_STATE_RETRIES", "STEP_CALL_BUDGET", "PROVIDER_CONCURRENCY", "CIRCUIT_FAILURES",
            "CIRCUIT_COOL_DOWN_SECONDS", "PAYMENT_CONFIRM_TIMEOUT", "PAYMENT_RECONCILE_AFTER_SECONDS",
            "PAYMENT_RECONCILE_EVERY_MINUTES", "HOLD_HOURS", "HOLD_EXPIRY_ACTION", "TRACKING_TIMEOUT_SECONDS",
            "TRACKING_ASK_MAX_SECONDS", "TRACKING_LOOKUP_TIMEOUT")


def policy_variables_set(environ=os.environ) -> list[str]:
    """The variables set in `environ` that name a value of the policy (a step's <STEP>_RETRIES,
    _BACKOFF, _TIMEOUT among them)."""
    per_step = [f"{shape.name.upper()}_{suffix}" for shape in structure() for suffix in ("RETRIES", "BACKOFF",
                                                                                          "TIMEOUT")]
    return [name for name in (*per_step, *NOT_READ) if name in environ]


@checks.register()
def policy_not_in_the_environment(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return [checks.Warning(
        f"{name} is set but not read: the pipeline's policy is the workflow version's.",
        hint="Publish a workflow version with the value (the admin, the API, or manage.py workflow_import; "
             "docs/workflow.md) and remove the variable.", id="workflows.W001")
        for name in policy_variables_set()]
