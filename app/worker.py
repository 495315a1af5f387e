"""``python -m app.worker``: the Celery worker that trains runs (``app/training/worker.py``)."""

from app.training.worker import main

if __name__ == "__main__":
    main()
