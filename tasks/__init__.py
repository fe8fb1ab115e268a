"""The Celery side: the app, the one task that runs a job row, and the job handlers."""
