"""Passwords never show where settings are printed or logged."""

from __future__ import annotations

from mediaq.settings import Settings


def test_settings_repr_masks_url_passwords_and_hides_the_jwt_secret() -> None:
    s = Settings(
        database_url="postgresql://mediaq:pg-secret@10.0.0.10:5432/mediaq?sslmode=require",
        redis_url="rediss://:redis-secret@10.0.0.10:6379/0",
        jwt_secret="jwt-secret",
    ).validated()
    text = repr(s)
    for secret in ("pg-secret", "redis-secret", "jwt-secret"):
        assert secret not in text
    assert "postgresql+psycopg://mediaq:***@10.0.0.10:5432/mediaq?sslmode=require" in text
    assert "rediss://:***@10.0.0.10:6379/0" in text
