"""Demo data for a first look: stores, a user per role, products, orders in every state, disputes, a payout.

Running it again keeps the data and gives the demo users new passwords (printed).
"""
from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import secrets

from flask import current_app
from sqlalchemy import select

from covet.accounts.models import User, new_session_token
from covet.accounts.passwords import hash_password
from covet.catalog.models import InventoryAdjustment, OptionValue, Product, ProductOption, Variant
from covet.dbtypes import utcnow
from covet.demo_disputes import seed_disputes
from covet.extensions import db
from covet.media.models import Media
from covet.orders.models import Customer, Fulfilment, Order, OrderLine, OrderTag
from covet.payments.models import Payment, Refund
from covet.payouts.models import Payout
from covet.stores.models import Store

STORES = [("Maison Lune", "maison-lune", "eur", 1200), ("Atelier Noor", "atelier-noor", "usd", 1000),
          ("Kestrel & Co", "kestrel-co", "gbp", 900)]
PRODUCTS = [  # title, brand, type, base price (minor units), options
    ("Silk Evening Dress", "Maison Lune", "Dress", 129000,
     {"Size": ["XS", "S", "M", "L"], "Colour": ["Noir", "Ivory"]}),
    ("Cashmere Wrap", "Maison Lune", "Scarf", 42000, {"Colour": ["Camel", "Charcoal", "Rose"]}),
    ("Leather Tote", "Atelier Noor", "Bag", 89000, {"Colour": ["Black", "Cognac"]}),
    ("Gold Hoop Earrings", "Atelier Noor", "Jewellery", 35000, {"Size": ["Small", "Large"]}),
    ("Chelsea Boot", "Kestrel & Co", "Shoes", 59000, {"Size": ["39", "40", "41", "42", "43"]}),
]
DEMO_USERS = [("admin", "admin@covet.test", "Ada Admin", None),
              ("staff", "staff@covet.test", "Sam Staff", None),
              ("merchant", "merchant@maison-lune.test", "Margot Lune", "maison-lune"),
              ("merchant", "merchant@atelier-noor.test", "Nadia Noor", "atelier-noor")]
COLOURS = [(31, 58, 95), (120, 84, 60), (60, 60, 60), (150, 110, 120), (90, 110, 80)]


def seed_demo() -> list[tuple[str, str, str]]:
    """Create the demo data if missing; return (role, email, password) for each demo user."""
    rng = random.Random(20261123)
    if db.session.scalar(select(Store).where(Store.slug == STORES[0][1])) is None:
        stores = _stores()
        variants = _catalogue(stores, rng)
        _orders(variants, rng)
    logins = _users()
    db.session.commit()
    return logins


def _stores() -> dict[str, Store]:
    stores = {}
    for name, slug, currency, bps in STORES:
        store = Store(name=name, slug=slug, currency=currency, commission_bps=bps,
                      stripe_account_id=f"acct_demo_{slug.replace('-', '_')}", charges_enabled=slug != "kestrel-co",
                      payouts_enabled=slug != "kestrel-co", details_submitted=True)
        db.session.add(store)
        stores[slug] = store
    db.session.flush()
    return stores


def _users() -> list[tuple[str, str, str]]:
    stores = {s.slug: s for s in db.session.scalars(select(Store))}
    logins = []
    for role, email, name, store_slug in DEMO_USERS:
        password = "demo-" + secrets.token_urlsafe(9)
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, role=role, name=name)
            db.session.add(user)
        user.store_id = stores[store_slug].id if store_slug else None
        user.password_hash = hash_password(password)
        user.session_token = new_session_token()
        user.failed_logins, user.locked_until = 0, None
        logins.append((role, email, password))
    return logins


def _catalogue(stores: dict[str, Store], rng: random.Random) -> list[Variant]:
    by_brand = {s.name: s for s in stores.values()}
    variants = []
    for index, (title, brand, kind, price, options) in enumerate(PRODUCTS):
        store = by_brand[brand]
        product = Product(store_id=store.id, title=title, slug=title.lower().replace(" ", "-"), brand=brand,
                          product_type=kind, status="active", tags=["demo"], description=f"{title} by {brand}.")
        db.session.add(product)
        option_values = []
        for position, (name, values) in enumerate(options.items()):
            option = ProductOption(name=name, position=position,
                                   values=[OptionValue(value=v, position=i) for i, v in enumerate(values)])
            product.options.append(option)
            option_values.append(option.values)
        db.session.flush()
        for position, combo in enumerate(itertools.product(*option_values)):
            stock = rng.choice([0, 2, 5, 8, 12])
            sku = f"{store.slug[:3].upper()}-{index:02d}-{position:03d}"
            variant = Variant(product_id=product.id, store_id=store.id, sku=sku, price_amount=price,
                              compare_at_amount=price + 20000 if position % 3 == 0 else None,
                              currency=store.currency, stock_on_hand=stock, weight_grams=400 + 50 * position,
                              position=position, option_values=list(combo))
            db.session.add(variant)
            db.session.flush()
            if stock:
                db.session.add(InventoryAdjustment(variant_id=variant.id, delta=stock, stock_after=stock,
                                                   reason="received", note="Demo opening stock"))
            variants.append(variant)
        _placeholder_image(product, store, COLOURS[index % len(COLOURS)])
    return variants


def _placeholder_image(product: Product, store: Store, colour: tuple[int, int, int]) -> None:
    """A plain coloured WebP on local disk, recorded as a ready image."""
    from PIL import Image

    key = f"demo/product-{product.id}.webp"
    path = os.path.join(current_app.config["MEDIA_ROOT"], key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", (800, 1000), colour).save(path, "WEBP", quality=80)
    db.session.add(Media(store_id=store.id, product_id=product.id, s3_key=key, filename=os.path.basename(key),
                         content_type="image/webp", alt_text=product.title, status="ready", width=800,
                         height=1000, renditions={"800": key}))


# (payment_status, fulfilment_status, state) covering every state the queue shows.
ORDER_SHAPES = [("unpaid", "unfulfilled", "open"), ("pending", "unfulfilled", "open"),
                ("paid", "unfulfilled", "open"), ("paid", "partial", "open"), ("paid", "fulfilled", "closed"),
                ("failed", "unfulfilled", "open"), ("refunded", "unfulfilled", "cancelled"),
                ("partially_refunded", "fulfilled", "closed"), ("unpaid", "unfulfilled", "cancelled")]


def _orders(variants: list[Variant], rng: random.Random) -> None:
    now = utcnow()
    customers = [Customer(email=f"{n}@example.com", name=n.title()) for n in ("olivia", "james", "amara", "kenji")]
    db.session.add_all(customers)
    db.session.flush()
    orders = []
    for n in range(40):
        shape = ORDER_SHAPES[n % len(ORDER_SHAPES)]
        created = now - dt.timedelta(days=rng.randint(0, 29), hours=rng.randint(0, 20))
        orders.append(_order(1001 + n, shape, created, rng.choice(customers), rng.sample(variants, 2), rng))
    db.session.flush()
    seed_disputes(orders)
    store = db.session.scalar(select(Store).where(Store.slug == "maison-lune"))
    db.session.add(Payout(store_id=store.id, stripe_payout_id="po_demo_1", amount=184500, currency=store.currency,
                          arrival_date=(now - dt.timedelta(days=2)).date(), status="paid"))


def _order(number, shape, created, customer, variants, rng) -> Order:
    payment_status, fulfilment_status, state = shape
    currency = variants[0].currency
    lines = [OrderLine(store_id=v.store_id, variant_id=v.id, product_title=v.product.title, variant_title=v.title,
                       sku=v.sku, unit_price_amount=v.price_amount, quantity=rng.randint(1, 2))
             for v in variants if v.currency == currency]
    total = sum(line.unit_price_amount * line.quantity for line in lines)
    paid = payment_status in ("paid", "refunded", "partially_refunded")
    refunded = {"refunded": total, "partially_refunded": total // 4}.get(payment_status, 0)
    order = Order(number=f"CV-{number}", customer_id=customer.id, email=customer.email, customer_name=customer.name,
                  customer_ip="203.0.113.7", currency=currency, subtotal_amount=total, total_amount=total,
                  refunded_amount=refunded, payment_status=payment_status, fulfilment_status=fulfilment_status,
                  state=state, created_at=created, updated_at=created, lines=lines,
                  paid_at=created + dt.timedelta(minutes=2) if paid else None,
                  cancelled_at=created + dt.timedelta(hours=3) if state == "cancelled" else None,
                  shipping_address={"line1": "12 Rue de la Paix", "city": "Paris", "postal_code": "75002",
                                    "country": "FR"})
    for line in lines:
        shipped = {"fulfilled": line.quantity, "partial": min(1, line.quantity)}
        line.quantity_fulfilled = shipped.get(fulfilment_status, 0)
    if number % 5 == 0:
        order.tags.append(OrderTag(tag="vip"))
    db.session.add(order)
    db.session.flush()
    if payment_status != "unpaid":
        db.session.add(Payment(order_id=order.id, checkout_session_id=f"cs_demo_{number}",
                               payment_intent_id=f"pi_demo_{number}",
                               charge_id=f"ch_demo_CV-{number}" if paid else None, amount=total, currency=currency,
                               status={"pending": "pending", "failed": "failed"}.get(payment_status, "succeeded")))
    if refunded:
        db.session.add(Refund(order_id=order.id, amount=refunded, currency=currency, status="succeeded",
                              idempotency_key=f"demo-refund-{number}", stripe_refund_id=f"re_demo_{number}"))
    if fulfilment_status != "unfulfilled":
        db.session.add(Fulfilment(order_id=order.id, store_id=lines[0].store_id, carrier="DHL",
                                  tracking_number=f"JD0146000{number}",
                                  shipped_at=created + dt.timedelta(days=1)))
    return order
