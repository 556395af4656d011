"""The initial migration builds exactly the models' schema, and downgrades cleanly."""
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from covet.extensions import db
from tests.conftest import PG_URL, build_app, drop_postgres_database, make_postgres_database, requires_postgres


def _diff(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, db.metadata)


def test_models_and_migrations_agree(app):
    """Autogenerate against the migrated test database finds nothing to add or change."""
    with db.engine.connect() as connection:
        assert _diff(connection) == []


def _round_trip(url, tmp_path):
    app = build_app(url, tmp_path)
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"orders", "variants", "stripe_events", "email_outbox", "audit_log", "price_alerts"} <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        with db.engine.connect() as connection:
            assert _diff(connection) == []
        db.engine.dispose()


def test_sqlite_upgrade_downgrade_upgrade(tmp_path):
    _round_trip(f"sqlite:///{tmp_path / 'rt.db'}", tmp_path)


@requires_postgres
def test_postgres_upgrade_downgrade_upgrade(tmp_path):
    name = f"covet_rt_{uuid.uuid4().hex[:8]}"
    url = make_postgres_database(PG_URL, name)
    try:
        _round_trip(url, tmp_path)
    finally:
        drop_postgres_database(PG_URL, name)


@requires_postgres
def test_pgbouncer_url_runs_without_prepared_statements(tmp_path, database_url):
    """The seed's pooled URL form connects, and repeated queries never prepare server-side."""
    app = build_app(database_url + "?sslmode=disable&connection_limit=2&pgbouncer=true", tmp_path)
    with app.app_context():
        assert db.engine.pool.size() == 2
        for _ in range(10):  # psycopg would prepare after 5 executions by default
            db.session.execute(text("SELECT count(*) FROM stores WHERE id > :n"), {"n": 0})
        prepared = db.session.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar()
        assert prepared == 0
        db.session.remove()
        db.engine.dispose()


def test_database_constraints_hold(app, make_store):
    """SKU unique per store and stock never negative are enforced by the database itself."""
    from sqlalchemy.exc import IntegrityError

    from covet.catalog.models import Product, Variant

    store = make_store("lune")
    product = Product(store_id=store.id, title="Dress", slug="dress")
    db.session.add(product)
    db.session.commit()

    def variant(sku, stock=1):
        return Variant(product_id=product.id, store_id=store.id, sku=sku, price_amount=1000, currency="eur",
                       stock_on_hand=stock)

    db.session.add(variant("A-1"))
    db.session.commit()
    db.session.add(variant("A-1"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    db.session.add(variant("A-2", stock=-1))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    other = make_store("noor")
    db.session.add(Variant(product_id=product.id, store_id=other.id, sku="A-1", price_amount=1, currency="usd"))
    db.session.commit()  # the same SKU in another store is fine


def test_timestamps_are_utc_aware(app, make_store):
    store = make_store("tz")
    db.session.expire_all()
    fetched = db.session.get(type(store), store.id)
    assert fetched.created_at.tzinfo is not None and fetched.created_at.utcoffset().total_seconds() == 0
