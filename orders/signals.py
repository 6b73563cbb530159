"""What the order domain announces. The layers above it (notifications, the pipeline) listen,
connecting their receivers in their AppConfig.ready; the order domain never imports them.

- `order_event` is sent inside the transaction that wrote an `OrderEvent` (the order placed, a
  transition fired, a partial refund, a corrected address), right after writing it, with
  `order` (as it is now) and `event`. What a receiver writes commits or rolls back with the
  event; a receiver that raises rolls the change back, so receivers keep to writes that belong
  with it.
- `order_ready` is sent after commit when the order is the pipeline's to move on (placed, or
  moved by a person into a working state), with `order_id`. Robust: an error in a receiver
  is logged and never turns the committed change into a failure.
"""
from django.dispatch import Signal

order_event = Signal()
order_ready = Signal()
