"""The payouts list: a merchant's own payouts, everyone's for staff, keyset pages newest arrival first."""
import datetime as dt
import re

from covet.payouts.models import Payout
from tests.conftest import login

DAY = dt.date(2026, 11, 1)


def add_payouts(db, store, count, status="paid", start=DAY):
    payouts = [Payout(store_id=store.id, stripe_payout_id=f"po_{store.slug}_{n:03d}", amount=10000 + n,
                      currency=store.currency, arrival_date=start + dt.timedelta(days=n // 2), status=status)
               for n in range(count)]
    db.session.add_all(payouts)
    db.session.commit()
    return payouts


def row_ids(html):
    return [int(n) for n in re.findall(r'id="payout-row-(\d+)"', html)]


def test_merchant_sees_only_own_payouts_in_keyset_pages(db, client, make_store, make_user, htmx_headers):
    own, other = make_store("own", currency="eur"), make_store("other", currency="usd")
    mine = add_payouts(db, own, 30)
    theirs = add_payouts(db, other, 3)
    login(client, make_user("merchant", store=own).email)
    first = client.get(f"/admin/payouts/?store={other.id}", headers=htmx_headers)  # a store filter is not theirs to set
    body = first.get_data(as_text=True)
    assert "<html" not in body and 'id="payout-list"' in body and "HX-Request" in first.headers["Vary"]
    expected = [p.id for p in sorted(mine, key=lambda p: (p.arrival_date, p.id), reverse=True)]
    assert row_ids(body) == expected[:25]
    assert "€100.29" in body and "po_own_029" in body and "2026-11-15" in body
    next_url = re.search(r'id="next-page" href="([^"]+)"', body).group(1).replace("&amp;", "&")
    second = client.get(next_url).get_data(as_text=True)
    assert "<html" in second and row_ids(second) == expected[25:] and 'id="next-page"' not in second
    assert not {p.id for p in theirs} & set(row_ids(body) + row_ids(second))
    assert 'name="store"' not in second  # no store filter for a merchant


def test_staff_see_every_store_and_can_filter(db, client, make_store, login_as):
    own, other = make_store("own", currency="eur"), make_store("other", currency="usd")
    add_payouts(db, own, 2)
    theirs = add_payouts(db, other, 2, status="in_transit", start=DAY + dt.timedelta(days=30))
    login_as("staff")
    everything = client.get("/admin/payouts/").get_data(as_text=True)
    assert len(row_ids(everything)) == 4 and row_ids(everything)[0] == theirs[1].id
    assert 'name="store"' in everything and "in transit" in everything and 'href="/admin/payouts/"' in everything
    filtered = client.get(f"/admin/payouts/?store={other.id}").get_data(as_text=True)
    assert sorted(row_ids(filtered)) == sorted(p.id for p in theirs)


def test_a_payout_without_arrival_date_and_a_bad_cursor(db, client, make_store, login_as):
    store = make_store("own")
    dated = add_payouts(db, store, 1)
    undated = Payout(store_id=store.id, stripe_payout_id="po_pending", amount=500, currency="eur", status="pending")
    db.session.add(undated)
    db.session.commit()
    login_as("admin")
    assert row_ids(client.get("/admin/payouts/").get_data(as_text=True)) == [undated.id, dated[0].id]
    assert row_ids(client.get("/admin/payouts/?after=not-a-cursor").get_data(as_text=True)) == [undated.id,
                                                                                                dated[0].id]
    empty = client.get("/admin/payouts/?store=999999").get_data(as_text=True)
    assert row_ids(empty) == [] and "No payouts yet" in empty
