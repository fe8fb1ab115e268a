"""The host daemon: GPU probe, host heartbeat, and the Celery worker processes it runs."""
