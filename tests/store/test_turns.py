"""Pipeline runs take turns in their process: a wait gives the turn up, a transaction never does."""
import threading

import pytest
from django.db import transaction

from store import turns


def other_thread_gets_the_turn() -> bool:
    """Whether another thread can take the turn within a moment (and gives it back at once)."""
    got = threading.Event()

    def take() -> None:
        if turns._turn.acquire(timeout=0.5):
            got.set()
            turns._turn.release()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    return got.is_set()


def test_a_wait_lets_another_run_work_and_the_turn_comes_back():
    with turns.turn():
        assert not other_thread_gets_the_turn()
        with turns.waiting():
            assert other_thread_gets_the_turn()
        assert not other_thread_gets_the_turn()
    assert other_thread_gets_the_turn()


@pytest.mark.django_db(transaction=True)
def test_a_wait_inside_a_transaction_keeps_the_turn():
    # The transaction may hold the database's write lock: the next run to take the turn could
    # need it, while this one waits for the turn to come back.
    with turns.turn(), transaction.atomic(), turns.waiting():
        assert not other_thread_gets_the_turn()


def test_outside_a_turn_a_wait_is_only_the_wait():
    with turns.waiting():
        assert other_thread_gets_the_turn()
