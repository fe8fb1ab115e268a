"""Settings are read from the environment once, validated, and survive a round trip."""

from __future__ import annotations

import pytest

from mediaq.errors import ConfigError
from mediaq.settings import Settings, settings_to_env


def test_plain_postgresql_url_selects_psycopg3() -> None:
    s = Settings.from_env({"DATABASE_URL": "postgresql://u@h:5432/db"})
    assert s.database_url == "postgresql+psycopg://u@h:5432/db"


def test_values_are_parsed() -> None:
    s = Settings.from_env(
        {
            "MEDIA_API_PORT": "4200",
            "ENABLE_MEDIA_FEATURES": "true",
            "CORS_ORIGINS": "http://a, http://b",
            "MEDIAQ_CLASSES": "cpu,gpu_ai",
            "MEDIAQ_FAKE_GPUS": "24576,81920",
            "MAX_UPLOAD_SIZE_GB": "2.5",
        }
    )
    assert s.api_port == 4200
    assert s.enable_media_features is True
    assert s.cors_origins == ("http://a", "http://b")
    assert s.classes == ("cpu", "gpu_ai")
    assert s.fake_gpus == (24576, 81920)
    assert s.max_upload_size_gb == 2.5


@pytest.mark.parametrize(
    "env",
    [
        {"MEDIA_API_PORT": "http"},
        {"ENABLE_MEDIA_FEATURES": "maybe"},
        {"MEDIAQ_CLASSES": "cpu,tpu"},
        {"MEDIAQ_FAKE_GPUS": "0"},
        {"MEDIAQ_HEARTBEAT_TIMEOUT": "-1"},
    ],
)
def test_malformed_values_are_refused_with_the_variable_named(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert any(part in str(err.value) for part in ("MEDIA", "class", "MEDIAQ", "ENABLE"))


def test_secret_is_not_in_repr() -> None:
    s = Settings.from_env({"JWT_SECRET": "s3cr3t-value"})
    assert "s3cr3t-value" not in repr(s)


def test_round_trip_through_the_environment() -> None:
    s = Settings.from_env(
        {"MEDIAQ_FAKE_GPUS": "1024", "MEDIAQ_CLASSES": "gpu_encode", "JWT_SECRET": "x"}
    )
    assert Settings.from_env(settings_to_env(s)) == s
