"""Safehold's HTTP service: FastAPI routes over the domain services (``safehold serve``).

``app.create_app`` builds the application; ``state.ServiceState`` holds the services one worker
process shares between requests; ``deps`` turns API keys into callers with scopes; ``errors``
maps the exception tree to JSON bodies in one place. Routes live in ``routes/<area>.py`` and
their pydantic shapes in ``schemas/<area>.py``.
"""
