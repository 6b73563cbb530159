"""django-q2's admins held to the store's rules: only superusers write schedules and queued tasks,
and each failed or successful task shows its order; resubmitting says what it did."""
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django_q.admin import FailAdmin, QueueAdmin, ScheduleAdmin, TaskAdmin, resubmit_task
from django_q.models import Failure, OrmQ, Schedule, Success

from backoffice.admin.base import order_link, plural
from backoffice.selectors.attention import failed_tasks, task_order_id


class SuperuserWritesMixin:
    """Only superusers add, change or delete: a django-q2 schedule or queued task names a function
    the worker runs, which is as much as a shell on the machine. Staff with view rights look."""

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser


for _model, _admin_class in ((Schedule, ScheduleAdmin), (OrmQ, QueueAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
        admin.site.register(_model, type(_admin_class.__name__, (SuperuserWritesMixin, _admin_class), {}))


class SettledFilter(admin.SimpleListFilter):
    """Failed tasks that still need a person, or settled ones (their order ended or was re-driven since)."""

    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("open", "Needs a person"), ("settled", "Settled (order ended or re-driven)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() not in {"open", "settled"}:
            return queryset
        settled = self.value() == "settled"
        return queryset.filter(pk__in=[task.failure.pk for task in failed_tasks() if task.settled == settled])


def _resubmitted(request: HttpRequest, tasks: list, *, removed: bool) -> None:
    names = ", ".join(task.name for task in tasks[:10]) + (", …" if len(tasks) > 10 else "")
    where = " and removed from this list (a new failure comes back here)" if removed else ""
    messages.success(request, f"Resubmitted {plural(len(tasks), 'task')} to the queue{where}: {names}.")


class TaskOrderMixin:
    """The order a task was queued for (backoffice.selectors.attention.TASK_ORDER_ARG), linked."""

    @admin.display(description="order")
    def order(self, task) -> str:
        return order_link(task_order_id(task.func, task.args))


if admin.site.is_registered(Failure):
    admin.site.unregister(Failure)


@admin.register(Failure)
class FailedTaskAdmin(TaskOrderMixin, FailAdmin):
    """django-q2's failed tasks, newest first, with their order and whether they still need a person."""

    list_display = ("name", "order", "func", "started", "stopped", "short_result")
    readonly_fields = ("order",)
    list_filter = (SettledFilter, "group", "cluster")
    ordering = ("-stopped",)
    actions = ("resubmit_selected",)

    # Resubmitting runs the task's function again: it needs the change permission, not only a view.
    @admin.action(description="Resubmit selected tasks to queue", permissions=["change"])
    def resubmit_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        tasks = list(queryset)
        resubmit_task(self, request, tasks)
        _resubmitted(request, tasks, removed=True)


if admin.site.is_registered(Success):
    admin.site.unregister(Success)


@admin.register(Success)
class SuccessfulTaskAdmin(TaskOrderMixin, TaskAdmin):
    """django-q2's successful tasks, with their order."""

    list_display = ("name", "order", "func", "started", "stopped", "time_taken")
    readonly_fields = ("order",)
    actions = ("resubmit_selected",)

    @admin.action(description="Resubmit selected tasks to queue", permissions=["change"])
    def resubmit_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        tasks = list(queryset)
        resubmit_task(self, request, tasks)
        _resubmitted(request, tasks, removed=False)
