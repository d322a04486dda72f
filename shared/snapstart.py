"""Lambda SnapStart: what must not be shared between environments restored from one snapshot.

With SnapStart, a function's init runs once per published version and its memory is snapshotted;
every new environment resumes from that snapshot instead of running init again. Anything created
during init is therefore shared by all of them: random state, open connections and clients,
and any secret or credential cached in memory. The after-restore hook below renews each of
those, so each environment starts with its own. Off SnapStart (locally, in tests, without the
runtime's `snapshot_restore_py` module) nothing is registered and nothing changes.
"""

from __future__ import annotations

import random
import sys


def refresh_after_restore() -> None:
    """Give this environment its own randomness, clients, connections and secret caches."""
    random.seed()
    # Caches of modules this function imported (none is imported here just to be cleared).
    caches = {
        "shared.aws_clients": ("aws_client",),
        "shared.persistence": ("connection",),
        "shared.auth.tokens": ("signing_secret",),
        "shared.idempotency": ("_persistence",),
        "shared.kms_encryption": ("_masking",),  # events-order: the one KMS mechanism (was in credentials)
        "shared.webhooks.signing_secrets": ("open_sealed",),  # events-order: opened signing secrets
        "shared.billing.stripe_client": ("_client",),  # billing-stripe: the Stripe key and its HTTP pool
    }
    for module_name, names in caches.items():
        module = sys.modules.get(module_name)
        for name in names if module is not None else ():
            getattr(module, name).cache_clear()
    if "shared.persistence" in sys.modules:
        sys.modules["shared.persistence"].forget_model_connections()
    # Secrets read through powertools' parameters utility (Stripe's keys) are cached in memory too.
    if "aws_lambda_powertools.utilities.parameters" in sys.modules:
        sys.modules["aws_lambda_powertools.utilities.parameters"].clear_caches()


def register_restore_hooks() -> bool:
    """Called at init by functions that run with SnapStart; returns whether hooks were registered."""
    try:
        from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]
    except ImportError:  # not on a SnapStart runtime
        return False
    register_after_restore(refresh_after_restore)
    return True
