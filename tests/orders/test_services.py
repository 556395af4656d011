"""Assigning, tagging and annotating orders; the carriers' tracking links."""
import pytest
from sqlalchemy import func, select

from covet.audit.models import AuditLog
from covet.errors import NotFoundError, ValidationError
from covet.extensions import db
from covet.orders import carriers
from covet.orders.models import Order, OrderNote, OrderTag
from covet.orders.services import add_note, assign, assignable_users, set_tags


def audits(action: str) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


# --- assign -----------------------------------------------------------------------------------------------

def test_assign_to_staff_then_unassign_is_audited(make_order, make_user, staff_actor):
    order = make_order()
    colleague = make_user("admin")
    version = order.version
    assert assign(order.id, colleague.id, staff_actor).assignee_id == colleague.id
    assert assign(order.id, None, staff_actor).assignee_id is None
    db.session.expire_all()
    assert db.session.get(Order, order.id).version == version + 2
    assert [(a.before, a.after) for a in audits("order.assigned")] == [
        ({"assignee_id": None}, {"assignee_id": colleague.id}), ({"assignee_id": colleague.id}, {"assignee_id": None})]


def test_assigning_the_same_person_again_changes_nothing(make_order, staff_actor):
    order = make_order()
    assign(order.id, staff_actor.user_id, staff_actor)
    assign(order.id, staff_actor.user_id, staff_actor)
    assert len(audits("order.assigned")) == 1


@pytest.mark.parametrize("who", ["merchant", "inactive", "missing"])
def test_only_active_staff_and_admins_can_be_assignees(make_order, make_user, staff_actor, stores, who):
    order = make_order()
    assignee_id = {"merchant": lambda: make_user("merchant", store=stores[0]).id,
                   "inactive": lambda: make_user("staff", active=False).id, "missing": lambda: 999_999}[who]()
    with pytest.raises(ValidationError) as refused:
        assign(order.id, assignee_id, staff_actor)
    assert refused.value.errors == {"assignee": "Choose an active staff member or admin."}
    assert db.session.get(Order, order.id).assignee_id is None and audits("order.assigned") == []


def test_merchants_cannot_assign(make_order, stores, merchant_of, staff_actor):
    order = make_order()
    with pytest.raises(NotFoundError):
        assign(order.id, staff_actor.user_id, merchant_of(stores[0]))


def test_assignable_users_are_active_staff_and_admins_by_name(make_user, stores):
    zoe = make_user("staff", name="Zoé")
    anna = make_user("admin", name="anna")
    unnamed = make_user("staff", email="bob@covet.test")
    make_user("staff", name="Gone", active=False)
    make_user("merchant", store=stores[0], name="Merchant")
    assert [u.id for u in assignable_users()] == [anna.id, unnamed.id, zoe.id]


# --- tags -------------------------------------------------------------------------------------------------

def test_tags_are_normalised_added_and_removed(make_order, staff_actor):
    order = make_order()
    set_tags(order.id, staff_actor, add=["  Gift Wrap ", "VIP", "vip"])
    assert sorted(t.tag for t in db.session.get(Order, order.id).tags) == ["gift-wrap", "vip"]
    set_tags(order.id, staff_actor, add=["rush"], remove=["Gift wrap"])
    db.session.expire_all()
    assert [t.tag for t in db.session.get(Order, order.id).tags] == ["rush", "vip"]
    assert [(a.before, a.after) for a in audits("order.tagged")] == [
        ({"tags": []}, {"tags": ["gift-wrap", "vip"]}), ({"tags": ["gift-wrap", "vip"]}, {"tags": ["rush", "vip"]})]
    set_tags(order.id, staff_actor, add=["rush"])  # nothing changes: no audit entry
    assert len(audits("order.tagged")) == 2


@pytest.mark.parametrize("bad", ["", "   ", "#vip", "café", "x" * 41, "a/b"])
def test_bad_tags_are_refused(make_order, staff_actor, bad):
    order = make_order()
    with pytest.raises(ValidationError) as refused:
        set_tags(order.id, staff_actor, add=[bad])
    assert "letters, digits and dashes" in refused.value.errors["tag"]
    assert db.session.scalar(select(func.count()).select_from(OrderTag)) == 0


def test_at_most_twenty_tags(make_order, staff_actor):
    order = make_order()
    set_tags(order.id, staff_actor, add=[f"t{i}" for i in range(20)])
    with pytest.raises(ValidationError) as refused:
        set_tags(order.id, staff_actor, add=["one-more"])
    assert refused.value.errors == {"tag": "An order can carry at most 20 tags."}
    set_tags(order.id, staff_actor, add=["one-more"], remove=["t0"])  # a swap stays within the cap
    assert len(db.session.get(Order, order.id).tags) == 20


def test_merchants_cannot_tag(make_order, stores, merchant_of):
    order = make_order()
    with pytest.raises(NotFoundError):
        set_tags(order.id, merchant_of(stores[0]), add=["x"])


# --- notes ------------------------------------------------------------------------------------------------

def test_staff_and_merchants_note_orders_they_can_see(make_order, stores, merchant_of, staff_actor):
    lune, noor = stores
    order = make_order()
    merchant = merchant_of(lune)
    note = add_note(order.id, "  Customer asked for gift wrap.  ", merchant)
    add_note(order.id, "Wrapped.", staff_actor)
    assert (note.body, note.author_id) == ("Customer asked for gift wrap.", merchant.user_id)
    assert [n.body for n in db.session.scalars(select(OrderNote).order_by(OrderNote.id))] == [
        "Customer asked for gift wrap.", "Wrapped."]
    entry = audits("order.note_added")[0]
    assert entry.store_id == lune.id and entry.after == {"note_id": note.id, "length": 29}
    noor_only = make_order(stores=[noor])
    with pytest.raises(NotFoundError):
        add_note(noor_only.id, "peek", merchant)


@pytest.mark.parametrize("body", ["", "   \n ", "x" * 5001])
def test_empty_or_huge_notes_are_refused(make_order, staff_actor, body):
    order = make_order()
    with pytest.raises(ValidationError) as refused:
        add_note(order.id, body, staff_actor)
    assert refused.value.errors == {"body": "Write a note of 1 to 5,000 characters."}
    assert db.session.scalar(select(func.count()).select_from(OrderNote)) == 0


# --- carriers ---------------------------------------------------------------------------------------------

def test_tracking_links_follow_each_carriers_pattern():
    assert carriers.tracking_url("ups", "1Z 999 AA1 01 2345 6784") == "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    assert carriers.tracking_url("la-poste", "6A12345678901") == \
        "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901"
    assert carriers.tracking_url("other", "ABC12345") is None
    assert carriers.tracking_url("nope", "ABC12345") is None
    assert all(carriers.tracking_url(code, "JD0146-00006281").endswith("JD0146-00006281")
               for code in carriers.CARRIERS if code != "other")
    assert carriers.CARRIERS["la-poste"] == "La Poste (Colissimo)"


@pytest.mark.parametrize(("raw", "clean"), [("JD01 4600 0062 81", "JD014600006281"), ("AB-12", "AB-12"),
                                            ("abc", None), ("x" * 41, None), ("AB12/34", None), ("", None),
                                            (None, None), ("AB12<script>", None)])
def test_tracking_numbers_are_4_to_40_letters_digits_or_dashes(raw, clean):
    assert carriers.clean_tracking_number(raw) == clean
