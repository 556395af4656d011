"""The email outbox: each email once, through SMTP, Resend or the console; failures visible."""
import pytest
from sqlalchemy import func, select

from covet.jobs.embedded import wait_for_embedded_jobs
from covet.jobs.models import JobOutbox
from covet.notifications import services
from covet.notifications.backends import TransientEmailError
from covet.notifications.catalog import TEMPLATES
from covet.notifications.models import EmailOutbox
from tests.conftest import build_app

DEMO = TEMPLATES["order_confirmation"].demo


def outbox(db):
    return db.session.scalars(select(EmailOutbox).order_by(EmailOutbox.id)).all()


@pytest.fixture
def smtp_app(app, database_url, tmp_path, smtp_sink):
    """An app sending through the sink, in embedded mode so delivery runs right after commit."""
    sender = build_app(database_url, tmp_path, SMTP_URL=smtp_sink.url, REDIS_URL=None,
                       EMAIL_FROM="Covet <shop@covet.test>")
    with sender.app_context():
        yield sender
        wait_for_embedded_jobs()


def test_unknown_template_or_missing_context_is_refused(app):
    with pytest.raises(services.EmailRequestError, match="unknown email template"):
        services.queue_email("welcome", "a@example.com", {}, "k1")
    with pytest.raises(services.EmailRequestError, match="missing context"):
        services.queue_email("order_confirmation", "a@example.com", {"order_number": "CV-1"}, "k2")


def test_same_key_three_times_is_one_row_and_one_job(app, db):
    for _ in range(3):
        services.queue_email("order_confirmation", "olivia@example.com", DEMO, "order-confirmation:CV-1042")
    assert db.session.scalar(select(func.count()).select_from(JobOutbox)) == 1
    db.session.commit()
    for _ in range(2):  # a duplicated webhook, a retried job
        services.queue_email("order_confirmation", "olivia@example.com", DEMO, "order-confirmation:CV-1042")
        db.session.commit()
    wait_for_embedded_jobs()
    assert len(outbox(db)) == 1


def test_smtp_delivers_both_parts_once(smtp_app, db, smtp_sink):
    services.queue_email("order_confirmation", "olivia@example.com", DEMO, "order-confirmation:CV-1042")
    db.session.commit()
    wait_for_embedded_jobs()
    [sent] = smtp_sink.messages
    message = sent["message"]
    assert sent["to"] == ["olivia@example.com"] and sent["from"] == "shop@covet.test"
    assert message["Subject"] == "Your Covet order CV-1042 is confirmed"
    assert message["Message-ID"].endswith("@covet.mail>")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "CV-1042" in text and "<html" not in text
    assert "CV-1042" in html and "€2,130.00" in html
    row = outbox(db)[0]
    db.session.refresh(row)
    assert row.status == "sent" and row.provider == "smtp" and row.sent_at is not None
    assert services.deliver(row.id) == "skipped" and len(smtp_sink.messages) == 1


def test_subject_is_not_html_escaped(smtp_app, db, smtp_sink):
    context = {**TEMPLATES["price_drop_alert"].demo, "product_title": "Tote & Co <Noir>"}
    services.queue_email("price_drop_alert", "amara@example.com", context, "alert:1:69000")
    db.session.commit()
    wait_for_embedded_jobs()
    message = smtp_sink.messages[0]["message"]
    assert message["Subject"] == "Tote & Co <Noir> is now $690.00"
    assert "Tote &amp; Co &lt;Noir&gt;" in message.get_body(("html",)).get_content()
    assert message["List-Unsubscribe"] == "<http://127.0.0.1:5000/alerts/unsubscribe/demo-token>"


def test_refused_recipient_fails_permanently_and_is_visible(smtp_app, db, smtp_sink, client, login_as):
    smtp_sink.refuse["gone@example.com"] = "550 5.1.1 No such user"
    services.queue_email("order_confirmation", "gone@example.com", DEMO, "order-confirmation:CV-9")
    db.session.commit()
    wait_for_embedded_jobs()
    row = outbox(db)[0]
    db.session.refresh(row)
    assert row.status == "failed" and "No such user" in row.last_error and row.attempts == 1
    assert db.session.scalar(select(func.count()).select_from(JobOutbox)) == 0  # not retried
    login_as("admin")
    response = client.get("/admin/emails/?status=failed")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and f'id="email-row-{row.id}"' in page and "No such user" in page
    assert client.get("/admin/emails/").status_code == 200
    assert client.get("/admin/emails/?status=sent").get_data(as_text=True).count('id="email-row-') == 0


def test_invalid_address_fails_without_contacting_anyone(smtp_app, db, smtp_sink):
    services.queue_email("order_confirmation", "not-an-address", DEMO, "order-confirmation:CV-10")
    db.session.commit()
    wait_for_embedded_jobs()
    assert outbox(db)[0].status == "failed" and smtp_sink.messages == []


def test_temporary_refusal_is_retried_later(smtp_app, db, smtp_sink):
    smtp_sink.refuse["busy@example.com"] = "451 4.3.0 Try again later"
    row = services.queue_email("order_confirmation", "busy@example.com", DEMO, "order-confirmation:CV-11")
    db.session.commit()
    wait_for_embedded_jobs()
    db.session.refresh(row)
    assert row.status == "pending" and row.locked_until is not None and "Try again" in row.last_error
    job = db.session.scalar(select(JobOutbox))
    assert job.status == "pending" and job.attempts == 1  # the job will run again after its backoff
    del smtp_sink.refuse["busy@example.com"]
    row.locked_until = None
    db.session.commit()
    assert services.deliver(row.id) == "sent" and len(smtp_sink.messages) == 1


def test_resend_backend_uses_the_sdk_with_an_idempotency_key(database_url, tmp_path, db, resend_server):
    app = build_app(database_url, tmp_path, RESEND_API_KEY="re_test_key", REDIS_URL=None)
    with app.app_context():
        row = services.queue_email("seller_payout", "margot@lune.test", TEMPLATES["seller_payout"].demo, "payout:po_1")
        db.session.commit()
        wait_for_embedded_jobs()
        [request] = resend_server.requests
        assert request["path"] == "/emails"
        assert request["headers"]["Authorization"] == "Bearer re_test_key"
        assert request["headers"]["Idempotency-Key"] == "payout:po_1"
        assert request["json"]["to"] == ["margot@lune.test"] and "€1,845.00" in request["json"]["subject"]
        assert request["json"]["text"] and request["json"]["html"]
        db.session.refresh(row)
        assert row.status == "sent" and row.provider_id == "re_test_1"


def test_resend_4xx_is_permanent_and_5xx_is_retried(database_url, tmp_path, db, resend_server):
    app = build_app(database_url, tmp_path, RESEND_API_KEY="re_test_key", REDIS_URL=None)
    with app.app_context():
        resend_server.replies += [(422, {"statusCode": 422, "name": "validation_error", "message": "Invalid `to`"}),
                                  (500, {"statusCode": 500, "name": "application_error", "message": "oops"})]
        bad = services.queue_email("seller_payout", "x@lune.test", TEMPLATES["seller_payout"].demo, "payout:a")
        flaky = services.queue_email("seller_payout", "y@lune.test", TEMPLATES["seller_payout"].demo, "payout:b")
        db.session.commit()
        wait_for_embedded_jobs()
        db.session.refresh(bad)
        db.session.refresh(flaky)
        assert bad.status == "failed" and "422" in bad.last_error
        assert flaky.status == "pending" and "500" in flaky.last_error


def test_console_backend_prints_the_email(database_url, tmp_path, db, capsys):
    app = build_app(database_url, tmp_path, REDIS_URL=None)
    with app.app_context():
        row = services.queue_email("shipping_notification", "kenji@example.com",
                                   TEMPLATES["shipping_notification"].demo, "ship:1")
        db.session.commit()
        wait_for_embedded_jobs()
        db.session.refresh(row)
    out = capsys.readouterr().out
    assert "email to kenji@example.com: Your Covet order CV-1042 is on its way" in out and "JD014600006281" in out
    assert row.status == "sent" and row.provider == "console"


def test_transient_error_from_backend_surfaces_for_rq_retry(smtp_app, db, monkeypatch):
    row = EmailOutbox(template="order_confirmation", recipient="a@example.com", context=DEMO, idempotency_key="t")
    db.session.add(row)
    db.session.commit()
    monkeypatch.setitem(smtp_app.config, "SMTP_URL", "smtp://127.0.0.1:1")  # nothing listens there
    with pytest.raises(TransientEmailError):
        services.deliver(row.id)
    db.session.refresh(row)
    assert row.status == "pending" and row.attempts == 1
