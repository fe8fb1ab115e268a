"""Pure parts of the newcomer's path: how hints spell the command, where GPU types run."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mediaq.fleetsettings import effective_cpu_only
from mediaq.settings import Settings
from ops.hints import command_for
from ops.up import gpu_routing


def test_hints_say_mediaq_only_when_path_finds_this_very_script(tmp_path: Path) -> None:
    script = tmp_path / "repo" / ".venv" / "bin" / "mediaq"
    script.parent.mkdir(parents=True)
    script.write_text("")
    other = tmp_path / "elsewhere" / "mediaq"
    assert command_for(script, str(script), tmp_path / "repo") == "mediaq"
    assert command_for(script, None, tmp_path / "repo") == ".venv/bin/mediaq"
    assert command_for(script, str(other), tmp_path / "repo") == ".venv/bin/mediaq"
    assert command_for(script, None, Path("/somewhere/else")) == str(script)


@given(env_value=st.sampled_from([None, "true", "false"]), gpu=st.booleans())
def test_up_runs_gpu_types_on_the_cpu_exactly_when_no_gpu_and_not_told_otherwise(
    env_value: str | None, gpu: bool
) -> None:
    environ = {} if env_value is None else {"MEDIAQ_CPU_ONLY": env_value}
    settings = Settings.from_env(environ)
    routed, note = gpu_routing(settings, environ, gpu)
    if env_value is None:
        assert routed.cpu_only is (not gpu)
        assert (note is not None) is (not gpu)
    else:
        assert routed.cpu_only is (env_value == "true")
        # a GPU-less machine told to keep GPU types for GPUs says they will wait
        assert (note is not None) is (not gpu and env_value == "false")
        if note:
            assert "NO_WORKERS" in note


@given(
    env_value=st.sampled_from([None, "true", "false"]),
    fleet=st.sampled_from([None, "true", "false"]),
)
def test_the_own_environment_wins_over_the_fleets_record(
    env_value: str | None, fleet: str | None
) -> None:
    environ = {} if env_value is None else {"MEDIAQ_CPU_ONLY": env_value}
    got = effective_cpu_only(Settings.from_env(environ), environ, fleet)
    assert got is ((env_value or fleet) == "true")
