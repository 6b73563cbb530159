"""Start or end a simulated provider outage on a running store.

    manage.py provider_outage payment --seconds 60 [--mode timeout|error]
    manage.py provider_outage payment --end
    manage.py provider_outage            # the outages on now

Every process of the store (web, each worker) sees the change within about a second: the
simulators read the outages at most once a second per process (providers.simulation).
"""
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from providers.models import SimulatedOutage
from providers.simulation import outages_forget
from providers.steps import outage_roles

MODES = [choice.value for choice in SimulatedOutage.Mode]


class Command(BaseCommand):
    help = ("Start (or with --end, end) an outage of a simulated provider: until it ends, every call "
            "to it times out (--mode timeout: after its per-attempt timeout) or fails at once (--mode error).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("provider", nargs="?", choices=outage_roles(),
                            help="Which provider role (none: list the outages on now).")
        parser.add_argument("--seconds", type=float, default=60.0, help="How long the outage lasts (default 60).")
        parser.add_argument("--mode", choices=MODES, default=SimulatedOutage.Mode.TIMEOUT,
                            help="timeout (default): each call waits its timeout, then times out; error: each call fails at once.")
        parser.add_argument("--end", action="store_true", help="End the provider's outage now.")

    def handle(self, *args, provider: str | None, seconds: float, mode: str, end: bool, **options) -> None:
        if provider is None:
            if end:
                raise CommandError("--end needs a provider.")
            self._list()
            return
        if end:
            ended = SimulatedOutage.objects.filter(provider=provider).delete()[0]
            outages_forget()
            self.stdout.write(f"{provider}: outage ended" if ended else f"{provider}: no outage was on")
            return
        if seconds <= 0:
            raise CommandError("--seconds must be more than 0 (--end ends an outage).")
        until = timezone.now() + timedelta(seconds=seconds)
        SimulatedOutage.objects.update_or_create(provider=provider, defaults={"until": until, "mode": mode})
        outages_forget()
        self.stdout.write(f"{provider}: outage ({mode}) until {until.isoformat(timespec='milliseconds')} ({seconds:g} s)")

    def _list(self) -> None:
        now = timezone.now()
        outages = SimulatedOutage.objects.filter(until__gt=now)
        if not outages:
            self.stdout.write("No provider outage is on.")
        for outage in outages:
            left = (outage.until - now).total_seconds()
            self.stdout.write(f"{outage.provider}: outage ({outage.mode}) until "
                              f"{outage.until.isoformat(timespec='seconds')} ({left:.0f} s left)")
