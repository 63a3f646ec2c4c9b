"""Alembic migrations of the kinhub schema (applied when a database is opened)."""
