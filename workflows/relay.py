"""The worker cluster's relay: a thread in its main process that watches the broker.

Every OUTBOX_RELAY_SECONDS it pings the broker, queues what the outbox holds, and queues the
probe of a provider's circuit whose cool-down is over (providers.breakers). When the
broker comes back after it could not be reached, the relay also re-drives every order in a
working state at once, instead of after STUCK_AFTER_SECONDS: a Redis that restarted without
persistence lost the tasks it held, and a run that finds its order moved on does nothing.
"""
import contextlib
import logging
import math
import multiprocessing
import threading
import time

from django.db import DatabaseError, close_old_connections
from django_q.brokers import get_broker
from django_q.brokers.redis_broker import Redis

from orders.selectors import orders_waiting_on
from providers import breakers
from workflows import outbox, tasks
from workflows.policy.selectors import policy_current

logger = logging.getLogger("workflows.relay")


def broker_reachable(broker) -> bool:
    """Ping the broker (Redis: within REDIS_TIMEOUT / REDIS_BROKER_TIMEOUT); never raises."""
    try:
        # Redis' own ping(): the broker's wrapper logs an error on every refusal, once a second.
        return bool(broker.connection.ping() if isinstance(broker, Redis) else broker.ping())
    except Exception:
        return False


class Relay:
    """One round per tick: ping, re-drive after an outage, queue the outbox. Logs each outage once."""

    def __init__(self, broker=None) -> None:
        self.broker = broker or get_broker()
        self.broker_down = False
        self.failing = False
        self.probes_queued: dict[str, float] = {}  # provider → when (monotonic s) its probe was queued

    def tick(self) -> None:
        if not broker_reachable(self.broker):
            if not self.broker_down:
                logger.warning("broker unreachable; tasks wait in the outbox until it is back")
            self.broker_down = True
            return
        try:
            if self.broker_down:
                redriven = tasks.orders_redrive()
                logger.warning("broker back; re-drove %s order(s) in working states", redriven)
            self.broker_down = False
            outbox.outbox_relay()
            self.probe_due_circuits()
            self.failing = False
        except Exception:  # the database may be down: logged once, the next round tries again
            if not self.failing:
                logger.exception("outbox relay round failed; trying again each round")
            self.failing = True


    def probe_due_circuits(self) -> None:
        """A provider's circuit whose cool-down is over, with orders waiting on it: queue the run
        of the one that waited longest, whose call is the probe. Once per cool-down at most: while
        the workers are busy the queued probe may take a while to claim the circuit."""
        now = time.monotonic()
        for provider in breakers.circuits_due():
            if now - self.probes_queued.get(provider, -math.inf) < policy_current().step(provider).cool_down:
                continue
            if orders_waiting_on(provider=provider).exists():
                outbox.enqueue("workflows.tasks.circuit_wake", provider, task_name=f"circuit-wake-{provider}",
                               group="pipeline")
                self.probes_queued[provider] = now


def _relay_forever(interval: float) -> None:
    # The cluster forks its sentinel right after start-up; this thread opens its connections
    # only after that, so no child inherits a connection it would share.
    while not multiprocessing.active_children():
        time.sleep(0.1)
    relay = Relay()
    while True:
        time.sleep(interval)
        with contextlib.suppress(DatabaseError):  # as Django does around a request (CONN_MAX_AGE, broken)
            close_old_connections()
        relay.tick()


def relay_start(interval: float) -> threading.Thread:
    """Run the relay every `interval` seconds from a daemon thread (the cluster's main process)."""
    thread = threading.Thread(target=_relay_forever, args=(interval,), name="outbox-relay", daemon=True)
    thread.start()
    return thread
