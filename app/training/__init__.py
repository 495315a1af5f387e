"""Training runs: admission, the event log, the executors (local and Celery), live streams."""
