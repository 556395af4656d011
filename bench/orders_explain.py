"""bench_orders --explain: each question replayed in-process, every statement it runs EXPLAINed at 1 M orders."""
from __future__ import annotations

import random

PASSWORD = "correct horse battery staple"
HTMX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def _signed_in_client(app, email: str):
    """A test client signed in over "https" (Secure cookies, the CSRF referrer check of a TLS request)."""
    from tests.conftest import csrf_from

    client, headers = app.test_client(), {"Referer": "https://localhost/admin/", "X-Forwarded-Proto": "https",
                                           "X-Forwarded-For": f"192.0.2.{random.randint(100, 200)}"}
    login = client.get("/admin/login", headers=headers, base_url="https://localhost")
    client.post("/admin/login", headers=headers, base_url="https://localhost",
                data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(login.text)})
    return lambda path, extra: client.get(path, headers={**headers, **extra}, base_url="https://localhost")


def _explain_captured(db, captured: list) -> None:
    raw = db.engine.raw_connection()
    try:
        for statement, params in captured:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            cursor = raw.cursor()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            plan = [r[0] for r in cursor.fetchall()]
            took = next((ln for ln in plan if ln.startswith("Execution Time")), "Execution Time: 0 ms")
            print(f"  {took.split(':')[1].strip():>10}  {_label(statement):<10} {plan[0][:150]}")
            if float(took.split(":")[1].split()[0]) > 5:
                print("\n".join("      " + ln for ln in plan))
        raw.rollback()
    finally:
        raw.close()


def explain(env: dict, samples: dict, questions: list[tuple[str, list[str]]], page50: str) -> None:
    """Run each question in-process, capture its SQL, EXPLAIN (ANALYZE, BUFFERS) every statement."""
    from sqlalchemy import event

    from covet import create_app
    from covet.extensions import db

    app = create_app(environ=env)
    staff, merchant = (_signed_in_client(app, email) for email in (samples["runners"][0], samples["merchant"]))
    captured: list = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute",
                     lambda conn, cur, statement, params, ctx, many: captured.append((statement, params)))
    print("\nEXPLAIN (ANALYZE, BUFFERS) of every statement each question runs (in-process, same database):")
    asks = [(name, staff, paths[0], HTMX) for name, paths in questions]
    asks += [("6 50th page", staff, page50, HTMX), ("dashboard (staff)", staff, "/admin/", {}),
             (f"dashboard (merchant of store {samples['store']})", merchant, "/admin/", {})]
    for question, get, path, extra in asks:
        captured.clear()
        get(path, extra)
        print(f"\n{question}: {path[:110]}")
        with app.app_context():
            _explain_captured(db, captured)


def _label(statement: str) -> str:
    s = " ".join(statement.split()).lower()
    for needle, label in (("from users", "user"), ("order_filter_presets", "presets"), ("from stores", "stores"),
                          ("count(*)", "count"), ("from order_tags", "tags"), ("from order_lines", "lines"),
                          ("from disputes", "disputes"), ("from orders", "orders")):
        if needle in s.split(" where ")[0] or (needle == "count(*)" and needle in s[:40]):
            return label
    return "other"
