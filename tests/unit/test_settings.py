"""Settings are read from the environment once, validated, and survive a round trip."""

from __future__ import annotations

import dataclasses
import re

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


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MEDIAQ_GPU_SLOTS": "0"}, "MEDIAQ_GPU_SLOTS must be at least 1"),
        ({"MEDIAQ_LOG_MAX_CHARS": "255"}, "MEDIAQ_LOG_MAX_CHARS must be at least 256"),
        ({"MEDIAQ_SCHEDULER_TICK": "nan"}, "MEDIAQ_SCHEDULER_TICK must be positive"),
        ({"MEDIAQ_TASK_EVENTS": "sometimes"}, "MEDIAQ_TASK_EVENTS must be true or false"),
        ({"MEDIAQ_LIMIT_VOTE_SESSION": "often"}, "MEDIAQ_LIMIT_VOTE_SESSION must be limits"),
        ({"MEDIAQ_TRUSTED_PROXIES": "10.0.0.0/8,proxy"}, "MEDIAQ_TRUSTED_PROXIES: 'proxy'"),
        ({"MEDIAQ_CLASSES": "cpu,tpu"}, "MEDIAQ_CLASSES: unknown class 'tpu'"),
    ],
)
def test_each_declared_bound_and_check_names_its_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        Settings.from_env(env)


def test_every_declared_variable_is_read_and_an_empty_one_counts_as_unset() -> None:
    from mediaq.settings import check_networks, declarations

    default = Settings()
    for f, d in declarations():
        was = getattr(default, f.name)
        kind = str(f.type).replace("'", "")
        raw = {
            "int": str(d.minimum + 9),
            "float": "2.5",
            "bool": "no" if was else "yes",
            "tuple[str, ...]": "10.0.0.1" if d.check is check_networks else "cpu",
            "tuple[int, ...]": "7",
            "str": "1/minute" if d.check is not None else "cpu",
        }[kind]
        assert getattr(Settings.from_env({d.env: raw}), f.name) != was, d.env
    blank = Settings.from_env({"MEDIA_API_PORT": "", "MEDIAQ_CLASSES": "", "DATABASE_URL": ""})
    assert blank == default
    assert Settings.from_env({"MEDIAQ_TASK_EVENTS": ""}).task_events is False


def test_replace_keeps_the_plain_database_url_working() -> None:
    s = dataclasses.replace(Settings(), database_url="postgresql://u@h/db")
    assert s.database_url == "postgresql+psycopg://u@h/db"


def test_cli_flags_parse_like_their_variables() -> None:
    from ops.cli import build_parser

    args = build_parser().parse_args(["worker", "--host", "h1", "--fake-gpus", "1024,2048"])
    s = Settings.from_env({}).with_overrides(**vars(args))
    assert (s.host_name, s.fake_gpus) == ("h1", (1024, 2048))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["worker", "--gpu-slots", "0"])
    with pytest.raises(ConfigError, match="MEDIAQ_CLASSES"):
        Settings.from_env({}).with_overrides(classes=("tpu",))
