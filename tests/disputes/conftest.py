"""Dispute fixtures: disputed orders across stores, on the order fixtures' two stores (Lune and Noor)."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest

from covet.dbtypes import utcnow
from covet.disputes.models import Dispute
from covet.extensions import db as _db
from covet.payments.models import Payment
from tests.orders.conftest import make_order, merchant_of, staff_actor, stores, variants  # noqa: F401

_ids = itertools.count(1)


@pytest.fixture
def make_dispute(db):
    """make_dispute(order, status="needs_response", reason="product_not_received", due_in=dt.timedelta(days=3))."""
    def make(order=None, status="needs_response", reason="product_not_received", due_in=dt.timedelta(days=3),
             amount=None, **fields):
        n = next(_ids)
        payment = _db.session.scalar(_db.select(Payment).where(Payment.order_id == order.id)) if order is not None \
            else None
        dispute = Dispute(stripe_dispute_id=fields.pop("stripe_dispute_id", f"dp_test_{n}"),
                          charge_id=payment.charge_id if payment else f"ch_dp_{n}",
                          order_id=order.id if order is not None else None,
                          amount=amount if amount is not None else (order.total_amount if order is not None else 5000),
                          currency=order.currency if order is not None else "eur", reason=reason, status=status,
                          evidence_due_by=utcnow() + due_in if due_in is not None else None,
                          stripe_updated_at=utcnow(), **fields)
        db.session.add(dispute)
        db.session.commit()
        return dispute
    return make
