"""The workers' Redis broker reads through an outage: a redis-server of the test's own is killed
and started again while django-q2's pusher reads from it, and the pusher goes on reading."""
import logging
import os
import queue
import secrets
import subprocess
import sys
import threading
from unittest import mock

import pytest
import redis
from django.conf import settings
from django_q.conf import Conf
from django_q.pusher import pusher
from django_q.signing import SignedPackage

from bench.drills.broker_outage import OwnRedis
from bench.procs import free_port
from store.broker import OutageTolerantRedis


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path, free_port())
    server.start()
    with mock.patch.object(Conf, "REDIS", f"{server.url}/0?socket_connect_timeout=0.5&socket_timeout=2"):
        yield server
    server.kill()


def broker_of(tmp_path, argv0: str) -> str:
    """The class name of the broker a process started as `manage.py <argv0>` gets with REDIS_URL set."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "DATA_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "store.settings", "SECRET_KEY": secrets.token_urlsafe(50),
           "REDIS_URL": "redis://127.0.0.1:1/0"}
    code = (f"import sys; sys.argv = ['manage.py', {argv0!r}]\n"
            "import django; django.setup()\n"
            "from django_q.brokers import get_broker\n"
            "print(type(get_broker()).__qualname__)")
    result = subprocess.run([sys.executable, "-c", code], cwd=settings.BASE_DIR, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[-1]


def test_a_worker_reads_with_this_broker_and_a_web_process_queues_with_django_q2s(tmp_path):
    assert broker_of(tmp_path, "qcluster") == "OutageTolerantRedis"
    assert broker_of(tmp_path, "runserver") == "Redis"


def test_the_pusher_goes_on_reading_through_a_redis_restart_and_stops_when_told(own_redis, caplog):
    caplog.set_level(logging.WARNING, logger="store.broker")
    tasks, stop = queue.Queue(), threading.Event()
    broker = OutageTolerantRedis(list_key="restart")
    reading = threading.Thread(target=pusher, args=(tasks, stop, broker), daemon=True)
    reading.start()
    broker.enqueue(SignedPackage.dumps({"id": "before", "name": "before"}))
    assert tasks.get(timeout=10)["id"] == "before"

    own_redis.kill()
    own_redis.start()  # on the same port, empty: a Redis without persistence
    broker.enqueue(SignedPackage.dumps({"id": "after", "name": "after"}))

    # django-q2's own broker would have let the pusher sleep 10 s and exit here.
    assert tasks.get(timeout=10)["id"] == "after"
    assert reading.is_alive()
    stop.set()
    reading.join(timeout=10)
    assert not reading.is_alive()
    messages = [record.getMessage().split(";")[0] for record in caplog.records]
    assert messages in ([], ["broker unreachable", "broker reachable again"])  # at most once each


def test_a_pusher_reading_while_redis_is_down_answers_no_task_and_logs_it_once(own_redis, caplog):
    caplog.set_level(logging.WARNING, logger="store.broker")
    broker = OutageTolerantRedis(list_key="down")
    own_redis.kill()

    assert [broker.dequeue(), broker.dequeue()] == [None, None]  # not django-q2's exception

    own_redis.start()
    broker.enqueue("task")
    assert broker.dequeue() == [(None, b"task")]
    assert [record.getMessage().split(";")[0] for record in caplog.records] == [
        "broker unreachable", "broker reachable again"]


def test_a_redis_that_answers_with_an_error_is_not_an_outage(own_redis):
    broker = OutageTolerantRedis(list_key="wrongtype")
    broker.connection.set(broker.list_key, "a string where the queue's list belongs")

    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        broker.dequeue()  # django-q2's pusher logs it loudly and restarts
