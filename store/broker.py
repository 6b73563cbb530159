"""django-q2's Redis broker for the workers, reading through an outage instead of giving up for 10 s.

django-q2's pusher (the worker cluster's process that pulls tasks off Redis) treats a failed
read as a crashed broker: it logs the traceback, sleeps 10 s and exits for the sentinel to
start another. A Redis back after a moment's outage (a restart, a failover) then sits unread
for those 10 s, and the orders the relay re-drove wait with it. This broker's read answers
"nothing yet" after BROKER_RETRY_SECONDS when Redis cannot be reached or does not answer in
time, so the pusher reads again within that long of Redis' return; it logs the outage once and
the return once, per pusher. A Redis that answers with an error (a wrong password, a read-only
replica, a key of the wrong type) is not an outage: that still takes django-q2's loud path.
"""
import logging
import time

import redis
from django_q.brokers.redis_broker import Redis

logger = logging.getLogger("store.broker")

# How long a pusher waits before reading again while Redis refuses (s): a poll that costs
# nothing, and about the delay a task sees after Redis is back.
BROKER_RETRY_SECONDS = 0.5


class OutageTolerantRedis(Redis):
    """A worker's `Q_CLUSTER["broker_class"]` with REDIS_URL: django-q2's Redis broker whose
    `dequeue` answers None (no task) while Redis is unreachable or times out, after sleeping
    BROKER_RETRY_SECONDS. Queueing (`enqueue`) is django-q2's: a web process queues with its
    own broker, and what Redis refuses waits in the outbox."""

    unreachable = False

    def dequeue(self):
        try:
            tasks = super().dequeue()
        except redis.AuthenticationError:
            raise
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if not self.unreachable:
                logger.warning("broker unreachable; reading again every %s s (%s: %s)",
                               BROKER_RETRY_SECONDS, exc.__class__.__name__, exc)
                self.unreachable = True
            time.sleep(BROKER_RETRY_SECONDS)
            return None
        if self.unreachable:
            logger.warning("broker reachable again; reading tasks")
            self.unreachable = False
        return tasks
