"""Alembic environment: the app's metadata, DIRECT_DATABASE_URL when set, portable type rendering."""
import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from sqlalchemy import create_engine, pool

from covet.dbtypes import UTCDateTime

config = context.config
if config.config_file_name and not current_app.config.get("TESTING"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db
target_metadata = target_db.metadata


def render_item(type_, obj, autogen_context):
    """Write our own column types as plain SQLAlchemy types, so migrations never import covet."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs):
    context.configure(target_metadata=target_metadata, compare_type=True, render_item=render_item,
                      render_as_batch=True, **kwargs)


def migration_url() -> str:
    """DIRECT_DATABASE_URL (bypassing a pooler) when set, else the app's database."""
    return current_app.config.get("MIGRATIONS_DATABASE_URI") or current_app.config["SQLALCHEMY_DATABASE_URI"]


def run_migrations_offline():
    _configure(url=migration_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    url = migration_url()
    if url == current_app.config["SQLALCHEMY_DATABASE_URI"]:
        connectable = target_db.engine
    else:
        connectable = create_engine(url, poolclass=pool.NullPool)

    def process_revision_directives(context_, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    with connectable.connect() as connection:
        _configure(connection=connection, process_revision_directives=process_revision_directives)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
