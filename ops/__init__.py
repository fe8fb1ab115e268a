"""Operator entry points: the `mediaq` CLI, `mediaq up`/`demo`, the container health checks.

This package sits above the roles (``api_shim``, ``scheduler``, ``workers``, ``tasks``) and the
core (``mediaq``): it may import any of them, and none of them imports it.
"""
