"""Storage: SQLAlchemy 2 tables, the engine factory, and the packaged Alembic migrations.

``tables`` defines the schema, ``engine.open_database`` connects (SQLite by default, PostgreSQL
at scale), ``migrate`` runs the migrations in ``migrations/``. Only services (``banks``,
later ``scanning``) import this package; ``signals`` and ``index`` never do.
"""
