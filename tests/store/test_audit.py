"""Every session factory is audited, including one made where a dead factory lived."""

from __future__ import annotations

from sqlalchemy.orm import sessionmaker

from meshward.store import audit


def test_a_factory_at_a_dead_factorys_address_is_audited_too() -> None:
    # SQLAlchemy's event registry keys listeners by id(target) and keeps a dead factory's key,
    # so asking it whether a new factory at the same address listens says yes (it does not)
    seen: set[int] = set()
    reused = 0
    for _ in range(50):
        factory = sessionmaker()
        reused += id(factory) in seen
        seen.add(id(factory))
        audit.install(factory)
        audit.install(factory)  # twice: still one listener
        with factory() as session:
            assert list(session.dispatch.after_flush).count(audit._after_flush) == 1
        del factory
    assert reused, "no factory was made at a dead one's address: the test proved nothing"
