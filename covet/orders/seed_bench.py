"""Bench data at scale: ~20 stores, a few hundred variants, customers and N orders over two years, loaded fast.

Rows are generated here with their ids already assigned. PostgreSQL loads them with COPY (psycopg's
`cursor.copy()`), moves the sequences past them and runs VACUUM ANALYZE; SQLite takes executemany batches.
Deterministic for a given seed and clock. Everything it writes respects the models' CHECK constraints.
"""
from __future__ import annotations

import datetime as dt
import math
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select, text

from covet.accounts.models import User
from covet.catalog.models import InventoryAdjustment, OptionValue, Product, ProductOption, Variant
from covet.dbtypes import utcnow
from covet.extensions import db
from covet.orders.models import Customer, Order, OrderLine, OrderTag
from covet.payments.models import Payment
from covet.stores.models import Store

STORE_COUNT, STAFF_COUNT, SPAN_DAYS = 20, 6, 730
CUSTOMERS_PER_ORDER = 0.3  # 1 M orders → ~300k customers
GROWTH = 3.0  # today's daily volume is three times that of two years ago
TAGS = (("vip", 0.4), ("gift", 0.35), ("stock-problem", 0.15), ("fraud-review", 0.1))
BRANDS = ["Lune", "Noor", "Kestrel", "Ardoise", "Sable", "Verveine", "Fjord", "Oriel", "Cobalt", "Mistral",
          "Tamarind", "Juniper", "Halcyon", "Saffron", "Basalt", "Willow", "Marlowe", "Umber", "Zephyr", "Quince"]
CURRENCIES = ["eur"] * 12 + ["usd"] * 5 + ["gbp"] * 3
GOODS = [("Silk Scarf", 8900), ("Linen Shirt", 12500), ("Wool Coat", 42000), ("Leather Tote", 36000),
         ("Cashmere Jumper", 24500), ("Chelsea Boot", 29000), ("Denim Jacket", 15900), ("Gold Hoop Earrings", 6500),
         ("Canvas Sneaker", 9900), ("Merino Beanie", 3900), ("Pleated Skirt", 11000), ("Trench Coat", 38500)]
SIZES = [["XS", "S", "M", "L", "XL"], ["S", "M", "L"], ["36", "38", "40", "42"], ["OS"]]
FIRST = ["olivia", "james", "amara", "kenji", "sofia", "lucas", "emma", "noah", "chloe", "mateo", "ines", "hugo",
         "mia", "leo", "zoe", "arjun", "lea", "omar", "nina", "felix", "clara", "yusuf", "ava", "theo", "maya",
         "ethan", "elena", "samuel", "ana", "louis", "freya", "david", "julia", "ravi", "lena", "oscar"]
LAST = ["martin", "bernard", "dubois", "smith", "jones", "garcia", "muller", "rossi", "silva", "kowalski",
        "nguyen", "tanaka", "okafor", "haddad", "larsen", "novak", "moreau", "fischer", "lopez", "brown",
        "wilson", "petit", "schmidt", "ricci", "costa", "ivanova", "kim", "singh", "cohen", "murphy"]
DOMAINS = ["gmail.com"] * 6 + ["outlook.com"] * 2 + ["yahoo.com", "icloud.com", "proton.me", "orange.fr",
                                                       "web.de", "hotmail.co.uk", "gmx.net", "free.fr"]
CITIES = {"eur": [("Paris", "FR", "75011"), ("Lyon", "FR", "69002"), ("Berlin", "DE", "10115"),
                  ("Madrid", "ES", "28004"), ("Milano", "IT", "20121"), ("Amsterdam", "NL", "1015")],
          "usd": [("Brooklyn", "US", "11201"), ("Austin", "US", "78701"), ("Portland", "US", "97205")],
          "gbp": [("London", "GB", "E2 7DJ"), ("Bristol", "GB", "BS1 5TR"), ("Leeds", "GB", "LS1 4AP")]}

CUSTOMER_COLS = ("id", "email", "name", "created_at", "updated_at")
ORDER_COLS = ("id", "number", "customer_id", "email", "customer_name", "customer_ip", "currency", "subtotal_amount",
              "shipping_amount", "tax_amount", "total_amount", "refunded_amount", "payment_status",
              "fulfilment_status", "state", "assignee_id", "shipping_address", "paid_at", "cancelled_at",
              "closed_at", "version", "created_at", "updated_at")
LINE_COLS = ("id", "order_id", "store_id", "variant_id", "product_title", "variant_title", "sku",
             "unit_price_amount", "quantity", "quantity_fulfilled", "quantity_refunded", "stock_problem")
PAYMENT_COLS = ("id", "order_id", "checkout_session_id", "payment_intent_id", "charge_id", "amount", "currency",
                "status", "failure_message", "created_at", "updated_at")
TAG_COLS = ("order_id", "tag")
# Loaded in this order so every foreign key finds its row.
TABLES = ((Customer, CUSTOMER_COLS, "customers"), (Order, ORDER_COLS, "orders"),
          (OrderLine, LINE_COLS, "lines"), (Payment, PAYMENT_COLS, "payments"), (OrderTag, TAG_COLS, "tags"))


@dataclass(frozen=True)
class Sellable:
    store_id: int
    variant_id: int
    product_title: str
    variant_title: str
    sku: str
    price: int


@dataclass
class Batch:
    customers: list = field(default_factory=list)
    orders: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    payments: list = field(default_factory=list)
    tags: list = field(default_factory=list)


def seed_bench(orders: int, seed: int = 1, batch: int = 50_000,
               progress: Callable[[str], None] = lambda _: None) -> dict:
    """Add `orders` realistic orders (and their stores, catalogue, customers, staff); counts of what was written."""
    started = time.perf_counter()
    rng = random.Random(seed)
    stores = _stores(rng)
    catalogue = _catalogue(stores, rng)
    staff = _staff()
    db.session.commit()
    progress(f"{len(stores)} stores, {sum(map(len, catalogue.values()))} variants, {len(staff)} staff "
             f"({time.perf_counter() - started:.1f} s)")
    generator = OrderGenerator(rng, stores, catalogue, staff, orders, _next_ids())
    writer = PostgresCopy() if db.engine.dialect.name == "postgresql" else SqliteBatches()
    counts = dict.fromkeys((name for _, _, name in TABLES), 0)

    def written(chunk: Batch) -> None:
        for _, _, name in TABLES:
            counts[name] += len(getattr(chunk, name))
        progress(f"orders {counts['orders']:,}/{orders:,} ({time.perf_counter() - started:.1f} s)")

    writer.write_all(generator.batches(batch), written)
    writer.finish()
    db.session.commit()
    progress(f"analysed ({time.perf_counter() - started:.1f} s)")
    return {**counts, "stores": len(stores), "staff": len(staff), "seconds": time.perf_counter() - started}


# --- stores, catalogue, staff: small, through the ORM ----------------------------------------------
def _stores(rng: random.Random) -> list[Store]:
    """Existing stores first, then bench-store-N up to STORE_COUNT."""
    stores = list(db.session.scalars(select(Store).order_by(Store.id).limit(STORE_COUNT)))
    n = 0
    while len(stores) < STORE_COUNT:
        n += 1
        if db.session.scalar(select(Store.id).where(Store.slug == f"bench-store-{n}")) is not None:
            continue
        brand = BRANDS[n % len(BRANDS)]
        store = Store(name=f"{brand} Atelier", slug=f"bench-store-{n}", currency=CURRENCIES[n % len(CURRENCIES)],
                      commission_bps=rng.choice([800, 1000, 1200]), charges_enabled=True, payouts_enabled=True,
                      details_submitted=True, support_email=f"hello@bench-store-{n}.test")
        db.session.add(store)
        stores.append(store)
    db.session.flush()
    return stores


def _catalogue(stores: list[Store], rng: random.Random) -> dict[int, list[Sellable]]:
    """Each store's bench products (created once, slug bench-NNNN) as sellable variants."""
    found: dict[int, list[Sellable]] = {}
    for store in stores:
        if db.session.scalar(select(Product.id).where(Product.store_id == store.id,
                                                       Product.slug.like("bench-%")).limit(1)) is None:
            _make_products(store, rng)
        rows = db.session.execute(
            select(Variant.id, Variant.sku, Variant.price_amount, Product.title, OptionValue.value)
            .join(Product, Product.id == Variant.product_id)
            .outerjoin(Variant.option_values)
            .where(Product.store_id == store.id, Product.slug.like("bench-%")).order_by(Variant.id)).all()
        found[store.id] = [Sellable(store.id, vid, title, size or "Default", sku, price)
                           for vid, sku, price, title, size in rows]
    return found


def _make_products(store: Store, rng: random.Random) -> None:
    prefix = (store.name.replace(" ", "") + "XXX")[:3].upper()
    for n in rng.sample(range(1, 100), rng.randint(3, 6)):
        title, base = rng.choice(GOODS)
        sizes = rng.choice(SIZES)
        product = Product(store_id=store.id, title=title, slug=f"bench-{n:04d}", brand=store.name,
                          product_type=title.split()[-1], status="active", tags=["bench"])
        option = ProductOption(name="Size", position=0,
                               values=[OptionValue(value=s, position=i) for i, s in enumerate(sizes)])
        product.options.append(option)
        db.session.add(product)
        db.session.flush()
        price = int(base * rng.uniform(0.8, 1.3)) // 100 * 100
        for position, value in enumerate(option.values):
            variant = Variant(product_id=product.id, store_id=store.id, sku=f"{prefix}-{n:04d}-{value.value}",
                              price_amount=price, currency=store.currency, stock_on_hand=500, position=position,
                              option_values=[value], weight_grams=rng.randint(80, 1800))
            db.session.add(variant)
            db.session.flush()
            db.session.add(InventoryAdjustment(variant_id=variant.id, delta=500, stock_after=500, reason="received",
                                               note="Bench opening stock"))


def _staff() -> list[int]:
    """bench-staff-N@covet.test (no usable password: set one with `covet create-user` or the bench)."""
    ids = []
    for n in range(1, STAFF_COUNT + 1):
        email = f"bench-staff-{n}@covet.test"
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, role="staff", name=f"Bench Staff {n}",
                        password_hash="!unusable-" + secrets.token_hex(16))
            db.session.add(user)
            db.session.flush()
        ids.append(user.id)
    return ids


def _next_ids() -> dict[str, int]:
    return {name: (db.session.scalar(select(func.max(model.id))) or 0) + 1
            for model, _, name in TABLES if name != "tags"}


# --- orders: generated as plain tuples ---------------------------------------------------------------
class OrderGenerator:
    """Orders oldest first (ids follow time), with their new customers, lines, payments and tags."""

    def __init__(self, rng, stores, catalogue, staff, count: int, next_ids: dict[str, int]):
        self.rng, self.staff, self.count, self.ids = rng, staff, count, dict(next_ids)
        self.stores = [s for s in stores if catalogue[s.id]]
        self.catalogue = catalogue
        # A few big sellers, a long tail (Zipf-like weights).
        self.weights = [1 / (rank + 1) ** 0.8 for rank in range(len(self.stores))]
        self.currencies = {s.id: s.currency for s in self.stores}
        self.same_currency = {s.id: [o for o in self.stores if o.currency == s.currency] for s in self.stores}
        self.customers: list[tuple[int, str, str, dict]] = []
        self.now = utcnow().replace(microsecond=0)

    def batches(self, size: int):
        span = SPAN_DAYS * 86400
        # Sorted uniforms through the inverse CDF of a linearly growing density: more recent volume.
        a = (GROWTH - 1) / 2
        fractions = sorted(self.rng.random() for _ in range(self.count))
        chunk = Batch()
        for u in fractions:
            x = (math.sqrt(1 + 4 * a * u * (1 + a)) - 1) / (2 * a)
            created = self.now - dt.timedelta(seconds=int(span * (1 - x)) + 1)
            self._order(chunk, created)
            if len(chunk.orders) >= size:
                yield chunk
                chunk = Batch()
        if chunk.orders:
            yield chunk

    def _take(self, name: str) -> int:
        value = self.ids[name]
        self.ids[name] = value + 1
        return value

    def _customer(self, chunk: Batch, created: dt.datetime, currency: str):
        rng = self.rng
        if not self.customers or rng.random() < CUSTOMERS_PER_ORDER:
            cid = self._take("customers")
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{first}.{last}{cid}@{rng.choice(DOMAINS)}"
            name = f"{first.title()} {last.title()}"
            city, country, postcode = rng.choice(CITIES[currency])
            address = {"name": name, "line1": f"{rng.randint(1, 180)} {rng.choice(LAST).title()} Street",
                       "city": city, "postal_code": postcode, "country": country}
            self.customers.append((cid, email, name, address))
            chunk.customers.append((cid, email, name, created, created))
            return self.customers[-1]
        # Returning customers lean towards the loyal early ones.
        return self.customers[int(len(self.customers) * rng.random() ** 1.3)]

    def _pick_lines(self) -> list[Sellable]:
        rng = self.rng
        store = rng.choices(self.stores, self.weights)[0]
        picked = [rng.choice(self.catalogue[store.id])]
        for _ in range(rng.choices((0, 1, 2, 3), (55, 28, 12, 5))[0]):
            # Mostly the same store; some baskets span two sellers of the same currency.
            other = store if rng.random() < 0.85 else rng.choice(self.same_currency[store.id])
            item = rng.choice(self.catalogue[other.id])
            if item not in picked:
                picked.append(item)
        return picked

    def _order(self, chunk: Batch, created: dt.datetime) -> None:
        rng = self.rng
        items = self._pick_lines()
        currency = self.currencies[items[0].store_id]
        cid, email, name, address = self._customer(chunk, created, currency)
        oid = self._take("orders")
        age_days = (self.now - created).total_seconds() / 86400
        payment, fulfilment, state = order_status(age_days, rng.random())
        quantities = [rng.choices((1, 2, 3), (80, 15, 5))[0] for _ in items]
        if fulfilment == "partial" and len(items) == 1 and quantities[0] == 1:
            fulfilment = "unfulfilled"  # one single item cannot be half shipped
        total = sum(i.price * q for i, q in zip(items, quantities, strict=True))
        refunded = {"refunded": total, "partially_refunded": items[-1].price}.get(payment, 0)
        paid = payment in ("paid", "partially_refunded", "refunded")
        paid_at = created + dt.timedelta(seconds=rng.randint(20, 400)) if paid else None
        closed_at = created + dt.timedelta(days=rng.uniform(3, 12)) if state == "closed" else None
        cancelled_at = created + dt.timedelta(hours=rng.uniform(1, 30)) if state == "cancelled" else None
        if closed_at and closed_at > self.now:
            closed_at = self.now
        if cancelled_at and cancelled_at > self.now:
            cancelled_at = self.now
        assignee = self._assignee(payment, fulfilment, state, age_days)
        updated = max(t for t in (created, paid_at, closed_at, cancelled_at) if t is not None)
        tags = self._tags(chunk, oid, paid)
        for n, (item, qty) in enumerate(zip(items, quantities, strict=True)):
            shipped = {"fulfilled": qty, "partial": qty if n == 0 and len(items) > 1 else qty - 1}.get(fulfilment, 0)
            back = qty if payment == "refunded" else (1 if payment == "partially_refunded" and n == len(items) - 1
                                                      else 0)
            problem = "Oversold: no stock left when paid" if "stock-problem" in tags and n == 0 else None
            chunk.lines.append((self._take("lines"), oid, item.store_id, item.variant_id, item.product_title,
                                item.variant_title, item.sku, item.price, qty, shipped, back, problem))
        ip = f"{rng.choice((81, 92, 151, 176, 203))}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        chunk.orders.append((oid, f"CV-{1_000_000 + oid}", cid, email, name, ip, currency, total, 0, 0, total,
                             refunded, payment, fulfilment, state, assignee, address, paid_at, cancelled_at,
                             closed_at, 1, created, updated))
        if payment != "unpaid":
            status = {"pending": "pending", "failed": "failed"}.get(payment, "succeeded")
            chunk.payments.append((self._take("payments"), oid, f"cs_bench_{oid}", f"pi_bench_{oid}",
                                   f"ch_bench_{oid}" if paid else None, total, currency, status,
                                   "Your card was declined." if status == "failed" else None,
                                   created, paid_at or created))

    def _assignee(self, payment: str, fulfilment: str, state: str, age_days: float) -> int | None:
        if not self.staff or state == "cancelled" or payment not in ("paid", "partially_refunded"):
            return None
        # Recent work in progress is sometimes claimed; shipped orders remember who handled them.
        share = 0.15 if fulfilment != "fulfilled" else (0.4 if age_days > 3 else 0.2)
        return self.rng.choice(self.staff) if self.rng.random() < share else None

    def _tags(self, chunk: Batch, order_id: int, paid: bool) -> set[str]:
        if self.rng.random() >= 0.05:
            return set()
        chosen = {self.rng.choices([t for t, _ in TAGS], [w for _, w in TAGS])[0]}
        if self.rng.random() < 0.1:
            chosen.add("gift" if "vip" in chosen else "vip")
        if not paid:
            chosen.discard("stock-problem")
        chunk.tags.extend((order_id, tag) for tag in sorted(chosen))
        return chosen


def order_status(age_days: float, r: float) -> tuple[str, str, str]:
    """(payment, fulfilment, state) for an order `age_days` old; r is uniform in [0, 1)."""
    if age_days <= 3:  # still being worked: most paid and waiting to ship
        table = ((0.06, ("unpaid", "unfulfilled", "open")), (0.08, ("pending", "unfulfilled", "open")),
                 (0.11, ("failed", "unfulfilled", "open")), (0.13, ("refunded", "unfulfilled", "cancelled")),
                 (0.78, ("paid", "unfulfilled", "open")), (0.85, ("paid", "partial", "open")),
                 (1.0, ("paid", "fulfilled", "open")))
    elif age_days <= 14:
        table = ((0.03, ("unpaid", "unfulfilled", "cancelled")), (0.05, ("failed", "unfulfilled", "open")),
                 (0.08, ("refunded", "unfulfilled", "cancelled")), (0.10, ("partially_refunded", "fulfilled", "open")),
                 (0.13, ("paid", "unfulfilled", "open")), (0.16, ("paid", "partial", "open")),
                 (0.80, ("paid", "fulfilled", "open")), (1.0, ("paid", "fulfilled", "closed")))
    else:
        table = ((0.02, ("unpaid", "unfulfilled", "cancelled")), (0.03, ("failed", "unfulfilled", "open")),
                 (0.04, ("failed", "unfulfilled", "cancelled")), (0.07, ("refunded", "unfulfilled", "cancelled")),
                 (0.09, ("partially_refunded", "fulfilled", "closed")), (0.65, ("paid", "fulfilled", "closed")),
                 (1.0, ("paid", "fulfilled", "open")))
    return next(shape for bound, shape in table if r < bound)


# --- writers -------------------------------------------------------------------------------------------
class PostgresCopy:
    """COPY each table's rows on the session's connection (one transaction), then sequences and statistics."""

    def __init__(self):
        from psycopg.types.json import Jsonb

        self.jsonb = Jsonb
        self.cursor = db.session.connection().connection.driver_connection.cursor()
        self.address = ORDER_COLS.index("shipping_address")

    def write_all(self, chunks, written: Callable[[Batch], None]) -> None:
        """COPY each batch on a second thread while this one builds the next: the server ingests one batch as
        Python generates the other (one in flight, so memory holds at most two)."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1, thread_name_prefix="seed-copy") as pool:
            pending = None
            for chunk in chunks:
                if pending is not None:
                    written(pending.result())
                pending = pool.submit(self.write, chunk)
            if pending is not None:
                written(pending.result())

    def write(self, chunk: Batch) -> Batch:
        for model, cols, name in TABLES:
            rows = getattr(chunk, name)
            if name == "orders":
                rows = ((*r[:self.address], self.jsonb(r[self.address]), *r[self.address + 1:]) for r in rows)
            with self.cursor.copy(f"COPY {model.__tablename__} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return chunk

    def finish(self) -> None:
        for model, _, name in TABLES:
            if name != "tags":
                table = model.__tablename__
                db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                                        f"(SELECT coalesce(max(id), 1) FROM {table}))"))  # our own table names
        db.session.commit()
        # VACUUM sets the visibility map (index-only scans) and hint bits; it cannot run in a transaction.
        tables = ", ".join(model.__tablename__ for model, _, _ in TABLES)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f"VACUUM (ANALYZE) {tables}")


class SqliteBatches:
    """executemany of each table's rows through SQLAlchemy Core (types convert datetimes and JSON)."""

    def write_all(self, chunks, written: Callable[[Batch], None]) -> None:
        for chunk in chunks:  # one thread: the session belongs to this app context
            self.write(chunk)
            written(chunk)

    def write(self, chunk: Batch) -> None:
        for model, cols, name in TABLES:
            rows = getattr(chunk, name)
            if rows:
                db.session.execute(insert(model.__table__), [dict(zip(cols, r, strict=True)) for r in rows])

    def finish(self) -> None:
        db.session.commit()
        db.session.execute(text("ANALYZE"))
