"""Alembic environment: migrations run synchronously as the database owner."""

from __future__ import annotations

from sqlalchemy import create_engine, pool

from alembic import context
from app.db import normalise_url
from app.models import metadata

config = context.config


def run() -> None:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the migrations")
    engine = create_engine(normalise_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            transaction_per_migration=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
