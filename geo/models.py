"""Every table of the domain, and what the models register, loaded in one explicit step.

`load_models()` runs at each entry point (the API's `create_app`, the `houniao` CLI, Alembic's
env.py, the test session) before anything reads `Base.metadata`, the encrypted-column registry
(`rotate-keys`, fingerprints, `houniao check`) or the retention purgers. Importing a models module
registers nothing: each has a `register()` that this module calls, so what a process knows never
depends on which modules it happened to import first.
"""

from __future__ import annotations

_loaded = False


def load_models() -> None:
    """Import every models module and run its registrations (idempotent)."""
    global _loaded
    if _loaded:
        return
    from geo.accounts import models as accounts
    from geo.audit import models as audit  # noqa: F401  (tables only)
    from geo.bookings import models as bookings  # noqa: F401  (tables only)
    from geo.cases import models as cases
    from geo.community.contacts import models as contacts  # noqa: F401  (tables only)
    from geo.community.council import models as council  # noqa: F401  (tables only)
    from geo.community.lists import models as lists
    from geo.community.volunteers import models as volunteers
    from geo.planning import models as planning  # noqa: F401  (tables only)
    from geo.privacy import retention
    from geo.residents import models as residents
    from geo.services import models as services
    from geo.spatial.boundaries import models as boundaries  # noqa: F401  (tables only)
    from geo.spatial.places import models as places  # noqa: F401  (tables only)
    from geo.spatial.roads import models as roads  # noqa: F401  (tables only)

    accounts.register()
    cases.register()
    residents.register()  # after cases: it adds the key cases.resident_id -> resident.id
    services.register()
    lists.register()
    volunteers.register()
    retention.register()  # the accounts' purgers
    _loaded = True


def require_loaded(what: str) -> None:
    """Fail loudly where a registry would otherwise be silently incomplete."""
    if not _loaded:
        raise RuntimeError(f"{what} needs geo.models.load_models() at startup")
