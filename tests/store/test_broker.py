"""The worker's Redis broker reads through an outage: a redis-server of the test's own is killed
and started again, and the same broker object answers "no task" meanwhile, then reads again."""
import logging
import os
import secrets
import subprocess
import sys
from unittest import mock

import pytest
from django.conf import settings
from django_q.conf import Conf

from bench.drills.broker_outage import OwnRedis
from bench.procs import free_port
from store.broker import OutageTolerantRedis

BASE_DIR = settings.BASE_DIR


@pytest.fixture
def own_redis(tmp_path):
    redis = OwnRedis(tmp_path, free_port())
    redis.start()
    yield redis
    redis.kill()


def test_a_worker_with_redis_as_its_broker_gets_this_broker(tmp_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "DATA_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "store.settings", "SECRET_KEY": secrets.token_urlsafe(50),
           "REDIS_URL": "redis://127.0.0.1:1/0"}
    code = ("import sys; sys.argv = ['manage.py', 'qcluster']\n"
            "import django; django.setup()\n"
            "from django_q.brokers import get_broker\n"
            "print(type(get_broker()).__qualname__)")
    result = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["OutageTolerantRedis"]


def test_a_killed_redis_answers_no_task_and_the_broker_reads_again_once_it_is_back(own_redis, caplog):
    caplog.set_level(logging.WARNING, logger="store.broker")
    with mock.patch.object(Conf, "REDIS", f"{own_redis.url}/0?socket_connect_timeout=0.5&socket_timeout=2"):
        broker = OutageTolerantRedis(list_key="outage")
        broker.enqueue("before")
        assert broker.dequeue() == [(None, b"before")]

        own_redis.kill()
        assert [broker.dequeue(), broker.dequeue()] == [None, None]  # not django-q2's exception

        own_redis.start()
        broker.enqueue("after")
        assert broker.dequeue() == [(None, b"after")]

    assert [record.getMessage().split(";")[0] for record in caplog.records] == [
        "broker unreachable", "broker reachable again"]  # once each, not once a read


def test_queueing_still_fails_while_redis_is_down_so_the_outbox_keeps_the_task():
    import redis

    with mock.patch.object(Conf, "REDIS", "redis://127.0.0.1:1/0?socket_connect_timeout=0.5"):
        with pytest.raises(redis.ConnectionError):
            OutageTolerantRedis(list_key="down").enqueue("task")
