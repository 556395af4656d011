"""Catalogue services without HTTP: matrix, row saves, conflicts, bulk edits, ledger, alerts, audit."""
import pytest
from sqlalchemy import func, select

from covet.audit.models import AuditLog
from covet.audit.services import Actor
from covet.catalog import matrix, products, variants
from covet.catalog.models import InventoryAdjustment, Product, Variant
from covet.errors import ConflictError, NotFoundError, ValidationError
from covet.notifications.models import EmailOutbox
from covet.storefront.models import PriceAlert


def row(variant, **changes):
    data = {"sku": variant.sku, "price": f"{variant.price_amount / 100:.2f}", "compare_at": "",
            "stock": str(variant.stock_on_hand), "barcode": "", "weight": "", "active": "on"}
    data.update(changes)
    return data


def test_matrix_has_one_variant_per_combination(dress):
    assert len(dress.variants) == 6
    titles = sorted(v.title for v in dress.variants)
    assert titles[0] == "L / Ivory" and len(set(titles)) == 6
    assert len({v.sku for v in dress.variants}) == 6


def test_generate_adds_only_missing_and_keeps_edits(db, dress, merchant_actor):
    first = dress.variants[0]
    variants.save_variant(first.id, dress.id, first.version, row(first, price="150.00"), merchant_actor)
    matrix.set_options(dress.id, [("Size", "S, M, L, XL"), ("Colour", "Noir, Ivory")], merchant_actor)
    assert matrix.generate_variants(dress.id, None, merchant_actor) == 2
    db.session.expire_all()
    assert db.session.get(Variant, first.id).price_amount == 15000
    assert db.session.scalar(select(func.count()).select_from(Variant).where(Variant.product_id == dress.id)) == 8
    assert matrix.generate_variants(dress.id, None, merchant_actor) == 0


def test_removing_a_value_needs_confirmation_then_deletes(db, dress, merchant_actor):
    with pytest.raises(matrix.ConfirmationRequiredError) as asked:
        matrix.set_options(dress.id, [("Size", "S, M"), ("Colour", "Noir, Ivory")], merchant_actor)
    assert len(asked.value.variants) == 2
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Variant)) == 6  # nothing deleted
    matrix.set_options(dress.id, [("Size", "S, M"), ("Colour", "Noir, Ivory")], merchant_actor, confirm_delete=True)
    assert db.session.scalar(select(func.count()).select_from(Variant)) == 4


def test_adding_an_option_keeps_existing_variants(db, dress, merchant_actor):
    matrix.set_options(dress.id, [("Size", "S, M, L"), ("Colour", "Noir, Ivory"), ("Material", "Silk, Wool")],
                       merchant_actor)
    db.session.expire_all()
    product = db.session.get(Product, dress.id)
    assert len(product.variants) == 6 and all(len(v.option_values) == 3 for v in product.variants)
    assert matrix.generate_variants(dress.id, None, merchant_actor) == 6


def test_options_are_validated(dress, merchant_actor):
    with pytest.raises(ValidationError) as err:
        matrix.set_options(dress.id, [("Size", "S, S")], merchant_actor)
    assert "distinct" in err.value.errors["option_0_values"]
    many = [(f"O{i}", ", ".join(str(n) for n in range(13))) for i in range(3)]  # 13³ = 2,197
    with pytest.raises(ValidationError, match="2,048"):
        matrix.set_options(dress.id, many, merchant_actor)


def test_2048_variants_generate(db, merchant_actor):
    product = products.create_product({"title": "Big"}, merchant_actor.store_id, merchant_actor)
    values = ", ".join(str(n) for n in range(16))
    matrix.set_options(product.id, [("A", values), ("B", values), ("C", "x, y, z, w, v, u, t, s")], merchant_actor)
    assert matrix.generate_variants(product.id, 5000, merchant_actor) == 2048


def test_row_save_validates_each_field(dress, merchant_actor):
    v = dress.variants[0]
    other = dress.variants[1]
    with pytest.raises(ValidationError) as err:
        variants.save_variant(v.id, dress.id, v.version,
                              row(v, sku=other.sku, price="12.345", compare_at="1", stock="-1", weight="x"),
                              merchant_actor)
    assert set(err.value.errors) == {"sku", "price", "stock", "weight"}
    with pytest.raises(ValidationError) as err:
        variants.save_variant(v.id, dress.id, v.version, row(v, price="100", compare_at="90"), merchant_actor)
    assert "higher than the price" in err.value.errors["compare_at"]


def test_stale_version_is_a_conflict_not_an_overwrite(db, dress, merchant_actor):
    v = dress.variants[0]
    loaded = v.version
    variants.save_variant(v.id, dress.id, loaded, row(v, price="120.00"), merchant_actor)  # someone else
    with pytest.raises(ConflictError) as conflict:
        variants.save_variant(v.id, dress.id, loaded, row(v, price="90.00"), merchant_actor)
    assert conflict.value.current["price_amount"] == 12000 and conflict.value.current_version == loaded + 1
    db.session.rollback()
    assert db.session.get(Variant, v.id).price_amount == 12000


def test_stock_changes_go_through_the_ledger(db, dress, merchant_actor):
    v = dress.variants[0]
    variants.save_variant(v.id, dress.id, v.version, row(v, stock="5", stock_reason="received"), merchant_actor)
    [entry] = db.session.scalars(select(InventoryAdjustment).where(InventoryAdjustment.variant_id == v.id))
    assert (entry.delta, entry.stock_after, entry.reason) == (5, 5, "received")
    v = db.session.get(Variant, v.id)
    with pytest.raises(ValidationError, match="Choose a reason"):
        variants.save_variant(v.id, dress.id, v.version, row(v, stock="3", stock_reason="sold"), merchant_actor)


def test_bulk_edit_is_all_or_nothing(db, dress, merchant_actor):
    ids = [v.id for v in dress.variants]
    v0 = dress.variants[0]
    variants.save_variant(v0.id, dress.id, v0.version, row(v0, stock="2", stock_reason="received"), merchant_actor)
    with pytest.raises(ValidationError) as err:
        variants.bulk_edit(dress.id, ids, "adjust_stock", "-1", merchant_actor, reason="damaged")
    assert len(err.value.errors) == 5  # five rows have no stock to remove
    db.session.rollback()
    assert db.session.scalar(select(func.sum(Variant.stock_on_hand))) == 2
    assert variants.bulk_edit(dress.id, ids, "percent", "-15", merchant_actor) == 6
    db.session.expire_all()
    assert {v.price_amount for v in db.session.get(Product, dress.id).variants} == {8500}


def test_bulk_compare_at_must_stay_above_price(db, dress, merchant_actor):
    ids = [v.id for v in dress.variants]
    with pytest.raises(ValidationError):
        variants.bulk_edit(dress.id, ids, "set_compare_at", "90", merchant_actor)
    assert variants.bulk_edit(dress.id, ids, "set_compare_at", "140", merchant_actor) == 6


def test_every_change_is_audited_with_before_and_after(db, dress, merchant_actor):
    v = dress.variants[0]
    variants.save_variant(v.id, dress.id, v.version, row(v, price="80.00"), merchant_actor)
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "variant.updated")).one()
    assert entry.before == {"price_amount": 10000} and entry.after == {"price_amount": 8000}
    assert entry.actor_id == merchant_actor.user_id


def test_lower_price_emails_subscribers_once(db, dress, merchant_actor):
    v = dress.variants[0]
    db.session.add_all([PriceAlert(email="a@example.com", product_id=dress.id, variant_id=v.id,
                                   price_when_subscribed=10000, currency="eur"),
                        PriceAlert(email="b@example.com", product_id=dress.id, price_when_subscribed=10000,
                                   currency="eur")])
    db.session.commit()
    variants.save_variant(v.id, dress.id, v.version, row(v, price="80.00"), merchant_actor)
    assert db.session.scalar(select(func.count()).select_from(EmailOutbox)) == 2
    v = db.session.get(Variant, v.id)
    variants.save_variant(v.id, dress.id, v.version, row(v, barcode="123"), merchant_actor)  # same price
    variants.save_variant(v.id, dress.id, v.version, row(v, price="85.00"), merchant_actor)  # up
    assert db.session.scalar(select(func.count()).select_from(EmailOutbox)) == 2


def test_changes_mark_the_product_tags_stale(app, db, dress, merchant_actor, log_lines):
    from covet.jobs.embedded import wait_for_embedded_jobs
    from covet.storefront.cache import cache_redis, key

    client = cache_redis()
    client.delete(key("invalidate:pending"))
    v = dress.variants[0]
    variants.save_variant(v.id, dress.id, v.version, row(v, price="99.00"), merchant_actor)
    wait_for_embedded_jobs()
    tags = {f"product:{dress.id}", f"store:{dress.store_id}", "listing"}
    if app.config["REDIS_URL"]:  # the purge waits for its coalescing window on RQ's scheduler
        assert tags <= {t.decode() for t in client.smembers(key("invalidate:pending"))}
    else:  # embedded: the purge ran right after the commit
        assert any(line["message"] == "cache_purged" and line["tags"] == 3 for line in log_lines())


def test_merchant_cannot_touch_another_store(db, dress, make_store, make_user):
    other = Actor.for_user(make_user("merchant", store=make_store("noor")))
    v = dress.variants[0]
    with pytest.raises(NotFoundError):
        variants.save_variant(v.id, dress.id, v.version, row(v, price="1.00"), other)
    with pytest.raises(NotFoundError):
        products.update_product(dress.id, dress.version, {"title": "Mine now"}, other)
