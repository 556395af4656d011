"""Seller liability: a lost dispute reverses each store's transfer pro rata; short balances become debt netted
against the next transfers; a won dispute gives back what was taken, once. Stripe is the local fake."""
from __future__ import annotations

import random

import pytest
from flask import render_template
from sqlalchemy import select

from covet.disputes import liability
from covet.disputes.liability_queries import liability_rows, store_liability
from covet.jobs.embedded import wait_for_embedded_jobs
from covet.payments import gateway
from covet.payments.models import Payment, StoreDebt, Transfer, TransferReversal
from covet.payments.services import book_transfers
from covet.payments.transfers import send_transfers
from tests.conftest import free_port, login


@pytest.fixture
def connected(app, db, stores, stripe_fake):
    """Lune (10 % commission) and Noor (15 %) onboarded on the fake; Stripe pointed at it."""
    stripe_fake.set_stripe_config(app)
    for store, bps in zip(stores, (1000, 1500), strict=True):
        account = gateway.call("/v1/accounts", "post", {"type": "express", "capabilities": {
            "transfers": {"requested": True}}}, idempotency_key=f"acct-{store.slug}")
        stripe_fake.complete_onboarding(account["id"])
        store.stripe_account_id, store.payouts_enabled, store.commission_bps = account["id"], True, bps
    db.session.commit()
    return stores


@pytest.fixture
def paid_order(db, make_order, connected, stripe_fake):
    """paid_order(stores=None, quantity=1): an order paid on the fake with its transfers sent."""
    def make(**kw):
        order = make_order(**kw)
        intent = stripe_fake.add_payment_intent(order.total_amount, "eur", metadata={"order_id": str(order.id)})
        payment = db.session.scalar(select(Payment).where(Payment.order_id == order.id))
        payment.payment_intent_id, payment.charge_id = intent["id"], intent["latest_charge"]
        book_transfers(order)
        db.session.commit()
        wait_for_embedded_jobs()
        send_transfers(order.id)
        return order
    return make


def transfers_of(db, order) -> dict[int, Transfer]:
    return {t.store_id: t for t in db.session.scalars(select(Transfer).where(Transfer.order_id == order.id))}


def fake_reversals(stripe_fake, db, order) -> dict[int, list[int]]:
    """Reversal amounts on the fake per store, for this order's transfers."""
    by_transfer = {t.stripe_transfer_id: store for store, t in transfers_of(db, order).items()}
    found: dict[int, list[int]] = {}
    for reversal in stripe_fake.objects_of("transfer_reversal"):
        if reversal["transfer"] in by_transfer:
            found.setdefault(by_transfer[reversal["transfer"]], []).append(reversal["amount"])
    return found


def fake_retransfers(stripe_fake, dispute) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for transfer in stripe_fake.objects_of("transfer"):
        meta = transfer["metadata"]
        if meta.get("covet_kind") == "retransfer" and meta.get("covet_dispute_id") == str(dispute.id):
            found.setdefault(transfer["destination"], []).append(transfer["amount"])
    return found


def lose(db, dispute):
    dispute.status = "lost"
    db.session.commit()
    liability.settle(dispute)


def win(db, dispute):
    dispute.status = "won"
    db.session.commit()
    liability.settle(dispute)


def withdraw(dispute):
    liability.record_funds(dispute, {}, liability.WITHDRAWN, 1_800_000_000)
    liability.settle(dispute)


def test_pro_rata_parts_sum_exactly_with_largest_remainder():
    assert liability.pro_rata(10, {1: 1, 2: 1, 3: 1}) == {1: 4, 2: 3, 3: 3}  # a tie goes to the lower id
    assert liability.pro_rata(30001, {1: 22500, 2: 21250}) == {1: 15429, 2: 14572}  # .2 vs .8: Noor gets the cent
    assert liability.pro_rata(500, {1: 0, 2: 0}) == {1: 0, 2: 0}
    rng = random.Random(7)
    for _ in range(500):
        weights = {n: rng.randint(0, 10**6) for n in range(rng.randint(1, 6))}
        total = rng.randint(0, 10**7)
        parts = liability.pro_rata(total, weights)
        assert sum(parts.values()) == (total if sum(weights.values()) else 0)
        assert all(abs(parts[k] - total * w / max(1, sum(weights.values()))) < 1 for k, w in weights.items())


def test_lost_dispute_reverses_each_store_pro_rata_once(db, paid_order, make_dispute, stripe_fake, stores):
    order = paid_order()
    lune, noor = stores
    assert {s: t.amount for s, t in transfers_of(db, order).items()} == {lune.id: 22500, noor.id: 21250}
    dispute = make_dispute(order, amount=30001)
    liability.settle(dispute)  # open, funds not withdrawn: nothing to do
    assert not stripe_fake.requests_to("GET", f"/v1/transfers/{transfers_of(db, order)[lune.id].stripe_transfer_id}")
    lose(db, dispute)
    liability.settle(dispute)  # duplicates (a replayed event, the lead's hook) change nothing
    lose(db, dispute)
    assert fake_reversals(stripe_fake, db, order) == {lune.id: [15429], noor.id: [14572]}
    keys = sorted(r.headers["Idempotency-Key"] for r in stripe_fake.requests if r.path.endswith("/reversals")
                  and r.method == "POST")
    assert keys == sorted({f"dispute-reversal:{dispute.id}:{lune.id}", f"dispute-reversal:{dispute.id}:{noor.id}"})
    rows = {r.store_id: r for r in liability_rows(dispute)}
    assert (rows[lune.id].share, rows[lune.id].reversed, rows[lune.id].state) == (15429, 15429, "reversed")
    assert rows[noor.id].reversed + rows[lune.id].reversed == 30001
    assert [r.store_id for r in liability_rows(dispute, store_id=noor.id)] == [noor.id]
    html = render_template("disputes/_liability.html", liability=list(rows.values()), liability_fee=1500)
    assert f'id="liability-row-{dispute.id}-{lune.id}"' in html and "€154.29" in html and "Reversed" in html


def test_a_full_dispute_takes_at_most_each_transfer(db, paid_order, make_dispute, stripe_fake, stores):
    order = paid_order()
    dispute = make_dispute(order)  # the whole €500.00: more than the stores received (commission)
    lose(db, dispute)
    assert fake_reversals(stripe_fake, db, order) == {stores[0].id: [22500], stores[1].id: [21250]}
    assert not db.session.scalars(select(StoreDebt)).all()  # what the platform kept is the platform's to lose


def test_short_balance_becomes_debt_netted_against_the_next_transfers(db, paid_order, make_dispute, stripe_fake,
                                                                      stores):
    lune, noor = stores
    order = paid_order()
    stripe_fake.account_balance[lune.stripe_account_id] = 100  # Lune was paid out: €1.00 left
    dispute = make_dispute(order)
    lose(db, dispute)
    assert fake_reversals(stripe_fake, db, order) == {noor.id: [21250]}
    debt = db.session.scalar(select(StoreDebt))
    assert (debt.store_id, debt.amount, debt.reason, debt.status) == (lune.id, 22500, "balance_insufficient", "open")
    assert db.session.scalar(select(TransferReversal.status).where(TransferReversal.store_id == lune.id)) == "debt"
    lose(db, dispute)  # settling again never retries a reversal the debt now stands for
    assert len(db.session.scalars(select(StoreDebt)).all()) == 1

    lune.commission_bps = 5000  # the next order sends Lune only €125.00: less than the debt
    db.session.commit()
    small = paid_order(stores=[lune])
    assert transfers_of(db, small)[lune.id].status == "netted"
    assert transfers_of(db, small)[lune.id].stripe_transfer_id is None  # nothing (never a negative) sent
    lune.commission_bps = 1000
    db.session.commit()
    big = paid_order(stores=[lune])
    sent = stripe_fake.get("transfer", transfers_of(db, big)[lune.id].stripe_transfer_id)
    assert sent["amount"] == 22500 - 10000
    debts = db.session.scalars(select(StoreDebt).order_by(StoreDebt.id)).all()
    assert [(d.amount, d.status, d.settled_by_transfer_id) for d in debts] == [
        (12500, "settled", transfers_of(db, small)[lune.id].id), (10000, "settled", transfers_of(db, big)[lune.id].id)]
    send_transfers(big.id)  # a retry sends nothing more and nets nothing twice
    assert transfers_of(db, big)[lune.id].debt_netted == 10000
    row = next(r for r in liability_rows(dispute) if r.store_id == lune.id)
    assert (row.reversed, row.debt_open, row.debt_settled, row.state) == (0, 0, 22500, "collected")


def test_won_after_reversal_gives_it_back_once(db, paid_order, make_dispute, stripe_fake, stores):
    order = paid_order()
    dispute = make_dispute(order, amount=30001)
    withdraw(dispute)
    assert fake_reversals(stripe_fake, db, order) == {stores[0].id: [15429], stores[1].id: [14572]}
    win(db, dispute)
    win(db, dispute)
    assert fake_retransfers(stripe_fake, dispute) == {stores[0].stripe_account_id: [15429],
                                                      stores[1].stripe_account_id: [14572]}
    rows = liability_rows(dispute)
    assert {(r.state, r.net) for r in rows} == {("given_back", 0)}
    withdraw(dispute)  # a late withdrawal never reverses a store that was given back
    assert sum(len(v) for v in fake_reversals(stripe_fake, db, order).values()) == 2


def test_won_after_debt_cancels_what_was_never_collected(db, paid_order, make_dispute, stripe_fake, stores):
    lune, noor = stores
    order = paid_order()
    stripe_fake.account_balance[lune.stripe_account_id] = 0
    dispute = make_dispute(order, amount=30001)
    withdraw(dispute)
    win(db, dispute)
    assert db.session.scalar(select(StoreDebt.status)) == "cancelled"
    assert fake_retransfers(stripe_fake, dispute) == {noor.stripe_account_id: [14572]}  # nothing back to Lune
    state = {r.store_id: (r.state, r.net, r.debt_cancelled) for r in liability_rows(dispute)}
    assert state == {lune.id: ("cancelled", 0, 15429), noor.id: ("given_back", 0, 0)}
    later = paid_order(stores=[lune])
    assert stripe_fake.get("transfer", transfers_of(db, later)[lune.id].stripe_transfer_id)["amount"] == 22500


def test_won_after_debt_was_collected_sends_it_back(db, paid_order, make_dispute, stripe_fake, stores):
    lune = stores[0]
    order = paid_order()
    stripe_fake.account_balance[lune.stripe_account_id] = 0
    dispute = make_dispute(order, amount=30001)
    withdraw(dispute)
    paid_order(stores=[lune])  # nets Lune's €154.29
    win(db, dispute)
    assert fake_retransfers(stripe_fake, dispute)[lune.stripe_account_id] == [15429]


def test_a_transfer_not_sent_yet_is_owed_and_netted_when_it_goes(db, paid_order, connected, make_dispute,
                                                                 stripe_fake):
    lune, noor = connected
    noor.payouts_enabled = False  # Noor has not finished onboarding: its transfer waits
    db.session.commit()
    order = paid_order()
    assert transfers_of(db, order)[noor.id].status == "waiting"
    dispute = make_dispute(order, amount=30001)
    lose(db, dispute)
    debt = db.session.scalar(select(StoreDebt))
    assert (debt.store_id, debt.amount, debt.reason) == (noor.id, 14572, "not_transferred")
    noor.payouts_enabled = True
    db.session.commit()
    send_transfers(order.id)
    assert stripe_fake.get("transfer", transfers_of(db, order)[noor.id].stripe_transfer_id)["amount"] == 21250 - 14572


def test_stripe_unreachable_fails_then_the_job_retries(app, db, paid_order, make_dispute, stripe_fake, stores):
    order = paid_order()
    dispute = make_dispute(order, amount=30001)
    dispute.status = "lost"
    db.session.commit()
    app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    app.extensions.pop("covet_stripe", None)
    liability.settle(dispute)
    wait_for_embedded_jobs()  # the retry job it queued fails too while Stripe is away
    rows = liability_rows(dispute)
    assert {r.state for r in rows} == {"failed"} and "could not be reached" in rows[0].error
    stripe_fake.set_stripe_config(app)
    liability.settle_dispute(dispute.id)
    assert fake_reversals(stripe_fake, db, order) == {stores[0].id: [15429], stores[1].id: [14572]}
    assert {r.state for r in liability_rows(dispute)} == {"reversed"}


def test_a_refused_retransfer_is_retried_under_a_new_key(db, paid_order, make_dispute, stripe_fake, stores):
    lune = stores[0]
    order = paid_order()
    dispute = make_dispute(order, amount=30001)
    withdraw(dispute)
    stripe_fake.objects[lune.stripe_account_id]["capabilities"]["transfers"] = "inactive"
    with pytest.raises(liability.LiabilityPendingError):
        dispute.status = "won"
        db.session.commit()
        liability.settle_dispute(dispute.id)
    back = db.session.scalar(select(TransferReversal).where(TransferReversal.kind == "retransfer",
                                                            TransferReversal.store_id == lune.id))
    assert (back.status, back.key_generation) == ("failed", 1) and "capabilities" in back.error
    stripe_fake.objects[lune.stripe_account_id]["capabilities"]["transfers"] = "active"
    liability.settle_dispute(dispute.id)
    db.session.refresh(back)
    assert back.status == "done" and fake_retransfers(stripe_fake, dispute)[lune.stripe_account_id] == [15429]
    assert stripe_fake.requests_to("POST", "/v1/transfers")[-1].headers["Idempotency-Key"] == \
        f"dispute-retransfer:{dispute.id}:{lune.id}:1"


def test_payouts_page_shows_each_store_its_own_reversals_and_debt(db, client, paid_order, make_dispute, make_user,
                                                                 stripe_fake, stores):
    lune, noor = stores
    order = paid_order()
    stripe_fake.account_balance[lune.stripe_account_id] = 0
    dispute = make_dispute(order, amount=30001)
    lose(db, dispute)
    login(client, make_user("merchant", store=noor).email)
    page = client.get("/admin/payouts/").get_data(as_text=True)
    assert f'id="liability-row-{dispute.id}-{noor.id}"' in page and "€145.72" in page
    assert f'id="liability-row-{dispute.id}-{lune.id}"' not in page and 'id="store-debt-' not in page
    staff_client = client.application.test_client()
    login(staff_client, make_user("staff").email)
    page = staff_client.get("/admin/payouts/").get_data(as_text=True)
    assert f'id="liability-row-{dispute.id}-{lune.id}"' in page and f'id="store-debt-{lune.id}-eur"' in page
    assert "owes €154.29" in page and "Owed as debt" in page
    only_noor = staff_client.get(f"/admin/payouts/?store={noor.id}").get_data(as_text=True)
    assert f'id="liability-row-{dispute.id}-{lune.id}"' not in only_noor
    assert len(store_liability().rows) == 2
