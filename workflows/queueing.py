"""How pipeline runs are queued: now (through the outbox) or at a time (a django-q2 schedule).

Both name the task by path (`workflows.tasks.pipeline_run`), so the pipeline's stages can
queue runs without importing the task module.
"""
from datetime import datetime

from django_q.models import Schedule
from django_q.tasks import schedule

from store.request_context import request_id_var
from workflows import outbox


def pipeline_enqueue(*, order_id: int) -> bool:
    """Queue a pipeline run for the order (carrying the current request id); False when the
    broker refused it and it waits in the outbox (`workflows.outbox`)."""
    return outbox.enqueue("workflows.tasks.pipeline_run", order_id, request_id_var.get(),
                          task_name=f"pipeline-order-{order_id}", group="pipeline")


SCHEDULE_PREFIX = "pipeline-order-"  # a scheduled run's name: <prefix><order id>-at-<when>


def pipeline_schedule(*, order_id: int, at: datetime) -> None:
    """Run the pipeline for the order at `at` (a one-off django-q2 schedule, carrying the request id,
    deleted once it ran); once per order and second, however often it is asked for."""
    name = f"{SCHEDULE_PREFIX}{order_id}-at-{at:%Y%m%d%H%M%S}"
    if Schedule.objects.filter(name=name).exists():
        return
    schedule(
        "workflows.tasks.pipeline_run",
        order_id,
        request_id=request_id_var.get(),
        name=name,
        schedule_type=Schedule.ONCE,
        next_run=at,
        repeats=-1,  # django-q2 deletes a one-off schedule with -1 once it ran (1 would keep the row forever)
    )

