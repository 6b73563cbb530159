"""What the account domain announces. The layers above it (the pipeline's outbox) listen,
connecting their receivers in their AppConfig.ready; accounts never imports them.

- `password_reset_requested` is sent when someone asks for a password-reset e-mail, with
  `email` exactly as entered. The receiver queues the e-mail task; whether an account has
  that address is decided there, in the worker, never in the request (so the answer takes
  the same time whoever asks).
- `staff_invited`: see below.
"""
from django.dispatch import Signal

password_reset_requested = Signal()

# `staff_invited` is sent once an owner's invitation of a staff member committed (or was sent
# again), with `user_id`. The receiver queues the invitation e-mail's task, which makes the
# link in the worker.
staff_invited = Signal()
