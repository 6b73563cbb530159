"""`make drill`: run the reliability drills, print what each did and PASS/FAIL; exit 1 on any FAIL.

    python -m bench.drills [crash oversell idempotency fuzz restart broker-outage provider-outage
                            slow-clients clock-skew db-outage webhooks] [--backend=sqlite|postgres] [--quick] [--keep-failed]

Each drill builds its own store: a new temp folder (h5drill-<name>-<backend>-<random>…), and a
database (drill<name>_<random>_store), queue name and Redis key prefix (h5drill<name><random>)
of its own, so two runs at once on one machine never meet. Each is removed when the drill ends;
with --keep-failed a failed drill's folder (its logs) stays. Without --backend, oversell runs on
PostgreSQL (what it is about: row locks under real concurrency), broker-outage on PostgreSQL with
a redis-server of its own, clock-skew on PostgreSQL + Redis (always: the ORM broker keeps time by the
writer's clock), db-outage on a PostgreSQL cluster of its own, and the others (provider-outage too) on
SQLite + the ORM broker.
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback

from bench.drills import (
    broker_outage,
    clock_skew,
    crash,
    db_outage,
    fuzz,
    idempotency,
    oversell,
    provider_outage,
    restart,
    slow_clients,
    webhooks,
)
from bench.env import discard_stores

DRILLS = {"crash": crash, "oversell": oversell, "idempotency": idempotency, "fuzz": fuzz, "restart": restart,
          "broker-outage": broker_outage, "provider-outage": provider_outage, "slow-clients": slow_clients,
          "clock-skew": clock_skew, "db-outage": db_outage, "webhooks": webhooks}
DEFAULT_BACKEND = {"oversell": "postgres", "broker-outage": "postgres", "clock-skew": "postgres", "db-outage": "postgres"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drills", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("drills", nargs="*", choices=[*DRILLS, []], default=[], metavar="DRILL",
                        help=f"which drills ({', '.join(DRILLS)}; default all)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"])
    parser.add_argument("--quick", action="store_true", help="tiny N (smoke test)")
    parser.add_argument("--keep-failed", action="store_true",
                        help="keep a failed drill's data folder (gunicorn and qcluster logs)")
    options = parser.parse_args(argv)
    names = options.drills or list(DRILLS)
    results = []
    for name in names:
        backends = (["sqlite", "postgres"] if options.backend == "all"
                    else [options.backend or DEFAULT_BACKEND.get(name, "sqlite")])
        for backend in backends:
            print(f"\n== drill {name} ({backend}) ==", flush=True)
            started = time.monotonic()
            passed = False
            try:
                outcome = DRILLS[name].run(backend, quick=options.quick)
                passed = outcome.passed
            except Exception:  # a drill that crashes has failed
                traceback.print_exc()
                passed = False
            finally:
                kept = discard_stores(keep_data_dirs=options.keep_failed and not passed)
            for path in kept:
                print(f"  - kept: {path}", flush=True)
            seconds = time.monotonic() - started
            print(f"== {name} ({backend}): {'PASS' if passed else 'FAIL'} in {seconds:.1f} s", flush=True)
            results.append((f"{name} ({backend})", passed, seconds))
    print("\nDrills:")
    for label, passed, seconds in results:
        print(f"  {'PASS' if passed else 'FAIL'}  {label:28} {seconds:6.1f} s")
    failed = sum(not passed for _, passed, _ in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
