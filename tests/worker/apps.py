from django.apps import AppConfig


class TestWorkerConfig(AppConfig):
    """The test suite's worker cluster forgets cached content types and workflow versions before each task.

    A transactional test ends with a flush that recreates the content types under new ids,
    while a `qcluster` process started for the whole session keeps the old ones cached: the
    audit trail's next entry written by a worker (a refund in the saga's compensation) would
    then name a content type that no longer exists, and its commit fail. Production never
    recreates content types under a running worker. Workflow versions likewise: a flush lets the
    next test publish another version under a number the worker read before.
    """

    name = "tests.worker"
    label = "test_worker"

    def ready(self) -> None:
        from django.contrib.contenttypes.models import ContentType
        from django_q.signals import pre_execute

        from workflows.policy.selectors import policy_cache_clear

        pre_execute.connect(lambda **kwargs: ContentType.objects.clear_cache(), weak=False,
                            dispatch_uid="test-worker-content-types")
        pre_execute.connect(lambda **kwargs: policy_cache_clear(), weak=False,
                            dispatch_uid="test-worker-workflow-versions")
