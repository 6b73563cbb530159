"""The store's record of its calls to providers (ProviderCall), the providers' circuits, and the
simulated providers' own data: their ledger of answered calls, the card vault and outages.

The ledger and the vault keep the table names they were created with (in the workflows app), so
no data moved.
"""
from django.db import models

from providers.steps import gateway_choices, outage_choices


class GatewayCall(models.Model):
    """The simulated providers' own record of every call they answered.

    A real provider keeps this on its side; the simulator keeps it here so that calls with
    the same idempotency key return the first final result, and so drills can count charges.
    """

    gateway = models.CharField(max_length=20, choices=gateway_choices)
    operation = models.CharField(max_length=20)
    idempotency_key = models.CharField(max_length=128)
    order_id = models.BigIntegerField(null=True, db_index=True)
    outcome = models.CharField(max_length=20)
    final = models.BooleanField(default=True, help_text="False for transient errors (timeouts).")
    result = models.JSONField(default=dict)
    latency_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "workflows_gatewaycall"
        ordering = ["id"]
        indexes = [models.Index(fields=["idempotency_key", "final"], name="gatewaycall_key_final")]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "operation", "idempotency_key"],
                condition=models.Q(final=True),
                name="gatewaycall_one_final_result_per_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway}.{self.operation} {self.idempotency_key} → {self.outcome}"


class ProviderCall(models.Model):
    """One call the store made to a provider, as the store saw it: written by the caller after each
    attempt (providers.calls), timeouts and errors included, whichever provider serves the role.

    Unlike GatewayCall (the simulators' own ledger, which a real provider keeps on its side), this
    is the store's record: the latency it waited (wall clock), the attempt, and the request that
    caused the call. The order's trace (workflows.trace) reads it.
    """

    class Outcome(models.TextChoices):
        OK = "ok", "ok"
        DECLINED = "declined", "declined"  # a business refusal: declined, out of stock, undeliverable
        PENDING = "pending", "pending"  # the provider answers later (a charge the bank confirms)
        TIMEOUT = "timeout", "timed out"
        ERROR = "error", "error"

    order_id = models.BigIntegerField(null=True)
    provider = models.CharField(max_length=20, choices=gateway_choices, help_text="The provider's role.")
    operation = models.CharField(max_length=20)
    # The pipeline step that made the call; "" for calls made elsewhere (refunds, reconciliation, e-mail).
    step = models.CharField(max_length=20, blank=True)
    idempotency_key = models.CharField(max_length=128)
    attempt = models.PositiveSmallIntegerField(default=1, help_text="Its number among the calls with this key.")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=200, blank=True, help_text="The provider's refusal, or what went wrong.")
    latency_ms = models.PositiveIntegerField(default=0, help_text="How long the store waited for the answer.")
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["order_id", "created_at"], name="providercall_order_created")]

    def __str__(self) -> str:
        return f"{self.provider}.{self.operation} {self.idempotency_key} → {self.outcome}"


class CardToken(models.Model):
    """The simulated payment provider's vault: a token stands for a card we never store."""

    token = models.CharField(max_length=64, unique=True)
    last4 = models.CharField(max_length=4)
    # The deterministic test-card behaviour (approve, a decline code, timeout_once…: providers.simulated
    # TEST_CARDS) or "" for random.
    behaviour = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "workflows_cardtoken"

    def __str__(self) -> str:
        return f"card ending {self.last4}"


class ProviderCircuit(models.Model):
    """The circuit breaker of one provider, shared by every worker process (providers.breakers).

    Closed while `opened_until` is empty; open until then; half-open after it, while one probe
    call (claimed until `probe_until`) decides whether it closes or opens again.
    """

    provider = models.CharField(max_length=20, primary_key=True)
    failures = models.PositiveIntegerField(default=0, help_text="Consecutive transient failures.")
    opened_until = models.DateTimeField(null=True, blank=True)
    probe_until = models.DateTimeField(null=True, blank=True)
    opened_count = models.PositiveIntegerField(default=0, help_text="Times it opened since it was created.")
    last_failure = models.CharField(max_length=200, blank=True)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.provider} circuit"
class SimulatedOutage(models.Model):
    """A provider outage an operator or a drill switched on (`manage.py provider_outage`).

    Until `until`, every call of that simulator fails: in mode "timeout" it waits the caller's
    per-attempt timeout, then raises GatewayTimeout (a provider that stopped answering); in
    mode "error" it raises GatewayTimeout at once (one that refuses connections).
    """

    class Mode(models.TextChoices):
        TIMEOUT = "timeout", "every call waits its timeout, then times out"
        ERROR = "error", "every call fails at once"

    provider = models.CharField(max_length=20, choices=outage_choices, unique=True)
    until = models.DateTimeField()
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.TIMEOUT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["provider"]

    def __str__(self) -> str:
        return f"{self.provider} outage ({self.mode}) until {self.until:%Y-%m-%d %H:%M:%S}"


# --- The carrier's rate card: what shipping costs, by zone, service and weight -------------------

class ShippingService(models.TextChoices):
    """The carrier's service levels the shop sells."""

    STANDARD = "standard", "Standard"
    EXPRESS = "express", "Express"


class ShippingZone(models.Model):
    """Destinations that ship at the same rates (providers.rates): the states and ZIP prefixes its
    `destinations` name. An address belongs to the zone of its longest matching ZIP prefix, else of
    its state, else to the fallback zone (at most one); with none, the carrier quotes nothing."""

    name = models.CharField(max_length=60, unique=True)
    is_fallback = models.BooleanField(
        "fallback", default=False, help_text="Prices every address that no zone's states or ZIP prefixes name."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_fallback"], condition=models.Q(is_fallback=True),
                                    name="shippingzone_one_fallback"),
        ]

    def __str__(self) -> str:
        return self.name


class ShippingDestination(models.Model):
    """One state (two letters, "NY") or one ZIP prefix (1–5 digits, "100") of a zone; each names
    exactly one of the two, and belongs to one zone."""

    zone = models.ForeignKey(ShippingZone, on_delete=models.CASCADE, related_name="destinations")
    state = models.CharField(max_length=2, blank=True, help_text="A state's two-letter code, e.g. NY.")
    zip_prefix = models.CharField("ZIP prefix", max_length=5, blank=True,
                                  help_text="The first 1 to 5 digits of a ZIP code, e.g. 100.")

    class Meta:
        ordering = ["state", "zip_prefix"]
        constraints = [
            models.CheckConstraint(condition=(models.Q(state="") & ~models.Q(zip_prefix=""))
                                   | (~models.Q(state="") & models.Q(zip_prefix="")),
                                   name="shippingdestination_state_or_zip_prefix"),
            models.UniqueConstraint(fields=["state"], condition=~models.Q(state=""),
                                    name="shippingdestination_state_once"),
            models.UniqueConstraint(fields=["zip_prefix"], condition=~models.Q(zip_prefix=""),
                                    name="shippingdestination_zip_prefix_once"),
        ]

    def __str__(self) -> str:
        return f"ZIP {self.zip_prefix}…" if self.zip_prefix else self.state


class ShippingRate(models.Model):
    """What one service costs to one zone: `base_cost` plus `cost_per_kg` for every started
    kilogram of the parcel (carriers bill whole kilograms, rounded up), delivered in `days_min` to
    `days_max` business days."""

    zone = models.ForeignKey(ShippingZone, on_delete=models.CASCADE, related_name="rates")
    service = models.CharField(max_length=20, choices=ShippingService.choices)
    base_cost = models.DecimalField(max_digits=8, decimal_places=2)
    cost_per_kg = models.DecimalField("cost per kg", max_digits=8, decimal_places=2)
    days_min = models.PositiveSmallIntegerField("days (fewest)")
    days_max = models.PositiveSmallIntegerField("days (most)")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["zone", "service"]
        constraints = [
            models.UniqueConstraint(fields=["zone", "service"], name="shippingrate_one_per_zone_service"),
            models.CheckConstraint(condition=models.Q(base_cost__gte=0, cost_per_kg__gte=0),
                                   name="shippingrate_costs_not_negative"),
            models.CheckConstraint(condition=models.Q(days_min__gte=1, days_max__gte=models.F("days_min")),
                                   name="shippingrate_days_in_order"),
        ]

    def __str__(self) -> str:
        return f"{self.get_service_display()} to {self.zone}"
