"""The order events an endpoint may subscribe to: the order placed, every event a transition
publishes (orders.states), a partial refund, a corrected address and the carrier's tracking
updates that leave the order shipped (orders.services.tracking)."""
from orders.services.address import ADDRESS_CORRECTED
from orders.services.tracking import EVENT_OF_STATUS
from orders.states import EVENT_OF_TRANSITION

ALL = "*"
EVENT_TYPES = tuple(sorted({"order.created", "order.partially_refunded", ADDRESS_CORRECTED,
                            *EVENT_OF_STATUS.values(), *EVENT_OF_TRANSITION.values()}))
