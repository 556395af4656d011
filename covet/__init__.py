"""Covet back office: the application factory."""
from __future__ import annotations

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from covet.config import ConfigError, describe_backends, load_config

__all__ = ["create_app", "ConfigError"]


def create_app(overrides: dict | None = None, environ: dict | None = None) -> Flask:
    """Build the app from the environment (and `.env` in development); `overrides` win (tests)."""
    app = Flask(__name__, instance_path=os.environ.get("COVET_INSTANCE_PATH") or None,
                template_folder="../templates", static_folder="../static")
    if environ is None and os.environ.get("COVET_ENV", "development") == "development":
        from dotenv import load_dotenv

        load_dotenv(os.path.join(app.root_path, "..", ".env"), override=False)
    app.config.update(load_config(app.instance_path, environ))
    app.config.update(overrides or {})
    from covet.web.converters import install as install_converters

    install_converters(app)  # before any route: `<int:>` ids are capped at the column's range
    register_extensions(app)
    register_blueprints(app)
    register_web_layer(app)
    register_cli(app)
    if app.config["STARTUP_CHECKS"]:
        from covet.ops.startup import check_services

        check_services(app)
    app.logger.info("covet started", extra={"backends": describe_backends(app.config)})
    return app


def register_extensions(app: Flask) -> None:
    from covet import all_models  # noqa: F401 - the whole schema on db.metadata
    from covet.accounts.services import load_user_by_session_token
    from covet.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(app.root_path, "..", "migrations"),
                     compare_type=True, render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user_by_session_token)


def register_blueprints(app: Flask) -> None:
    from covet.accounts.admin_views import bp as users_bp
    from covet.accounts.views import bp as accounts_bp
    from covet.catalog import csv_views, variant_views  # noqa: F401 - more routes on the catalog blueprint
    from covet.catalog.views import bp as catalog_bp
    from covet.dashboard.views import bp as dashboard_bp
    from covet.disputes import action_views  # noqa: F401 - the dispute page's forms
    from covet.disputes.views import bp as disputes_bp
    from covet.jobs.views import bp as jobs_bp
    from covet.media.views import bp as media_bp
    from covet.notifications.views import bp as emails_bp
    from covet.ops.views import bp as ops_bp
    from covet.orders import bulk_views, detail_views  # noqa: F401 - more routes on the orders blueprint
    from covet.orders.views import bp as orders_bp
    from covet.payments.views import bp as checkout_bp
    from covet.payouts.views import bp as payouts_bp
    from covet.storefront.views import bp as storefront_bp
    from covet.stores.views import bp as stores_bp
    from covet.webhooks.admin_views import bp as webhook_events_bp
    from covet.webhooks.views import bp as webhooks_bp

    for bp in (accounts_bp, users_bp, catalog_bp, checkout_bp, dashboard_bp, disputes_bp, emails_bp, jobs_bp, media_bp,
               ops_bp, orders_bp, payouts_bp, storefront_bp, stores_bp, webhook_events_bp, webhooks_bp):
        app.register_blueprint(bp)
    from covet.jobs.dashboard import mount_rq_dashboard

    mount_rq_dashboard(app)


def register_web_layer(app: Flask) -> None:
    from covet.jobs.ticker import init_ticker
    from covet.observability import init_observability
    from covet.web.errors import register_error_handlers
    from covet.web.htmx import apply_htmx_headers
    from covet.web.input_guard import init_input_guard
    from covet.web.policy import init_policy
    from covet.web.security import init_security
    from covet.web.templating import init_templating

    proxies = int(app.config.get("PROXY_COUNT") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    init_observability(app)
    init_input_guard(app)  # before the policy and every view: a NUL never reaches a query
    init_policy(app)
    init_security(app)
    init_templating(app)
    init_ticker(app)
    app.after_request(apply_htmx_headers)
    register_error_handlers(app)


def register_cli(app: Flask) -> None:
    from covet.cli import covet_cli

    app.cli.add_command(covet_cli)
