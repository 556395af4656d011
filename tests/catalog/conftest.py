"""Catalogue fixtures: a store, a product with options, an actor per role."""
import pytest

from covet.audit.services import Actor
from covet.catalog import matrix, products


@pytest.fixture
def merchant_actor(make_user, make_store):
    store = make_store("lune", currency="eur")
    user = make_user("merchant", store=store)
    return Actor.for_user(user)


@pytest.fixture
def dress(db, merchant_actor):
    """A product with Size × Colour = 6 variants at €100.00."""
    product = products.create_product({"title": "Silk Dress", "status": "active"}, merchant_actor.store_id,
                                      merchant_actor)
    matrix.set_options(product.id, [("Size", "S, M, L"), ("Colour", "Noir, Ivory")], merchant_actor)
    matrix.generate_variants(product.id, 10000, merchant_actor)
    db.session.expire_all()
    return db.session.get(type(product), product.id)


@pytest.fixture
def signed_in(client, db, merchant_actor):
    """The merchant of the `merchant_actor` store, signed in on `client`."""
    from covet.accounts.models import User
    from tests.conftest import login

    user = db.session.get(User, merchant_actor.user_id)
    assert login(client, user.email).status_code == 303
    return user
