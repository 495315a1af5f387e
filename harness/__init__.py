"""Real services on loopback (PostgreSQL, Redis, Celery workers) for the tests and benchmarks."""
