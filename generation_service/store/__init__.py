"""Generation's own PostgreSQL tables: policies, usage records and limits.

:class:`~generation_service.store.database.Database` owns the connection
pool and applies the migrations at start-up; the other modules are the
queries, each translating asyncpg's errors at its edge.
"""
