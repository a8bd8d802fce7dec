"""Alembic migrations; `lepton migrate` runs them (see bot/migrate.py)."""
