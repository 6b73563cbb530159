"""Every model's admin, one module per subject; Django's autodiscovery imports this package.

The back office loads after the libraries (INSTALLED_APPS), so the modules that replace a
library's admin (accounts: groups and failed sign-ins, audit, tasks) find it registered.
"""
from backoffice.admin import (  # noqa: F401 - each module registers its admins
    accounts,
    approvals,
    audit,
    catalog,
    customers,
    notifications,
    orders,
    providers,
    refunds,
    shipping,
    staff,
    tasks,
    webhooks,
    workflows,
)
