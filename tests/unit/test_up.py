"""``mediaq up`` and ``mediaq demo``: the pure parts (messages, settings, commands, plans)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from celery.events.state import State

from mediaq.errors import ConfigError
from mediaq.models import Job
from mediaq.proctree import start_time
from mediaq.settings import Settings
from ops.demo import (
    CLIPS,
    JobView,
    clip_argv,
    clip_paths,
    media_specs,
    note_for,
    publish_specs,
)
from ops.flowerconfig import format_task
from ops.jobsview import job_note
from ops.up import (
    Unreachable,
    UpOptions,
    banner,
    mask_url,
    prepare_settings,
    service_argv,
    services,
    unreachable_message,
)


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("postgresql://app:s3cret@db:5432/media") == "postgresql://app:***@db:5432/media"
    assert mask_url("redis://:pw@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert mask_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_unreachable_message_names_what_was_tried_and_how_to_start_it() -> None:
    message = unreachable_message(
        [
            Unreachable("PostgreSQL", "DATABASE_URL", "postgresql://app:***@db:5432/m", "refused"),
            Unreachable("Redis", "REDIS_URL", "redis://127.0.0.1:6380/0", "timed out"),
        ]
    )
    assert "PostgreSQL: tried postgresql://app:***@db:5432/m (from DATABASE_URL): refused" in (
        message
    )
    assert "Redis: tried redis://127.0.0.1:6380/0 (from REDIS_URL): timed out" in message
    assert "docker compose up -d postgres redis" in message
    assert "systemctl start postgresql redis-server" in message


def test_prepare_settings_enables_the_api_and_makes_a_secret() -> None:
    settings, notes = prepare_settings(Settings(), environ={})
    assert settings.enable_media_features
    assert len(settings.jwt_secret) >= 32
    assert any("JWT_SECRET" in n for n in notes)
    kept, notes = prepare_settings(Settings(jwt_secret="x" * 40), environ={})
    assert kept.jwt_secret == "x" * 40 and notes == []


def test_prepare_settings_respects_an_explicit_opt_out() -> None:
    with pytest.raises(ConfigError, match="ENABLE_MEDIA_FEATURES"):
        prepare_settings(Settings(enable_media_features=False), {"ENABLE_MEDIA_FEATURES": "false"})


def test_services_and_their_commands() -> None:
    assert services(UpOptions()) == ["api", "scheduler", "worker", "flower"]
    assert services(UpOptions(flower=False, worker=False)) == ["api", "scheduler"]
    argv = service_argv("flower", UpOptions(flower_port=5600), python="py")
    assert argv == ["py", "-m", "ops.cli", "flower", "--port=5600", "--address=127.0.0.1"]
    assert service_argv("api", UpOptions(), python="py") == ["py", "-m", "ops.cli", "api"]


def test_banner_lists_every_url_with_the_token_in_the_fragment() -> None:
    text = banner(Settings(api_port=4100), UpOptions(flower_port=5555), "TOKEN")
    assert "http://127.0.0.1:4100/admin/queue#token=TOKEN" in text
    assert "http://127.0.0.1:5555/" in text
    assert "http://127.0.0.1:4100/metrics" in text
    assert "http://127.0.0.1:4100/api/media/public" in text
    assert "http://127.0.0.1:4100/gallery" in text


def test_demo_clip_command_uses_lavfi_sources() -> None:
    argv = clip_argv(CLIPS[0], Path("/tmp/a.mp4"), 2.0)
    assert argv[0] == "ffmpeg" and argv[-1] == "/tmp/a.mp4"
    assert "testsrc2=size=320x240:rate=25" in argv
    assert "sine=frequency=440" in argv
    assert argv[argv.index("-t") + 1] == "2"
    names = [p.name for p in clip_paths(Path("/lib"), "T")]
    assert len(set(names)) == len(CLIPS) and all(n.startswith("demo-T-") for n in names)


def test_demo_plan_covers_reencode_gif_and_quad() -> None:
    specs = media_specs([11, 12, 13, 14], use_gpu=True)
    assert [s.type for s in specs] == ["reencode_streaming", "generate_gif", "compile_quad"]
    assert specs[0].params == {"videoId": 11}
    assert specs[2].params == {"videoIds": [11, 12, 13, 14]}
    assert all(s.resource_category is None for s in specs)
    on_cpu = media_specs([11, 12, 13, 14], use_gpu=False)
    assert [s.resource_category for s in on_cpu] == ["cpu", None, "cpu"]
    assert on_cpu[0].vram_required == 0


def test_demo_publishes_each_product_into_its_gallery_category() -> None:
    done = [
        JobView(1, "reencode_streaming", "completed", 100, "", {"videoId": 11, "path": "/o/a.mp4"}),
        JobView(2, "generate_gif", "completed", 100, "", {"videoId": 12, "path": "/o/b.gif"}),
        JobView(
            3, "compile_quad", "completed", 100, "", {"videoIds": [11, 12], "path": "/o/q.mp4"}
        ),
        JobView(4, "compile_quad", "failed", 30, "boom", None),
    ]
    specs = publish_specs(done)
    assert [s.type for s in specs] == ["publish"] * 3
    assert [s.params for s in specs] == [
        {"videoId": 11, "path": "/o/a.mp4", "category": "videos"},
        {"videoId": 12, "path": "/o/b.gif", "category": "gifs"},
        {"videoId": 11, "path": "/o/q.mp4", "category": "compilations"},
    ]


def test_demo_note_shows_the_waiting_reason() -> None:
    reason = "RESOURCES_VRAM: needs 12288 MiB; best GPU gpu-2/GPU-3f2a has 8000 MiB available"
    assert note_for("pending", reason, None, None) == reason
    assert note_for("running", None, None, "gpu-2") == "on gpu-2"
    assert note_for("failed", None, "Traceback\nValueError: x", None) == "ValueError: x"


DRIVER = """
import json, os, sys, time
from mediaq.proctree import ProcessTree, descendants_of, start_time
tree = ProcessTree()
child = tree.start("stubborn", [sys.executable, sys.argv[1]], dict(os.environ))
def groups():
    # A grandchild just forked is still in its parent's group until its setsid().
    return sorted({os.getpgid(p) for p in descendants_of(os.getpid())})
deadline = time.monotonic() + 30
while len(groups()) < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
pids = descendants_of(os.getpid())
started = [start_time(p) for p in pids]
report = {"pids": pids, "started": started, "groups": groups()}
report |= {"left": tree.stop(grace_s=1.0), "subreaper": tree.subreaper}
print(json.dumps(report))
"""


def test_process_tree_ends_grandchildren_in_their_own_groups(tmp_path: Path) -> None:
    # A child that ignores SIGTERM and starts a grandchild in a session of its own: stopping
    # the child's group alone would leave both behind. Run in a fresh interpreter, since the
    # tree makes its owner a subreaper.
    script = tmp_path / "child.py"
    script.write_text(
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
        " start_new_session=True)\n"
        "time.sleep(600)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(report["pids"]) == 2 and len(report["groups"]) == 2
    assert report["subreaper"] is True
    assert report["left"] == []
    for pid, started in zip(report["pids"], report["started"], strict=True):
        # the same pid and start time: the same process (pids are reused, 32768 by default)
        assert start_time(pid) != started, f"process {pid} outlived the tree"


def test_flower_shows_a_running_jobs_progress_then_its_outcome() -> None:
    # Celery's own event state, fed the events a worker sends for one job.
    state = State()
    base = {"uuid": "job-7-a1", "hostname": "cpu@h", "local_received": 1.0}
    state.event({**base, "type": "task-started", "timestamp": 1.0, "clock": 1})
    state.event(
        {**base, "type": "task-progress", "timestamp": 2.0, "clock": 2}
        | {"progress": 40, "result": "40%"}
    )
    task = state.tasks["job-7-a1"]
    shown = format_task(copy.copy(task))  # Flower formats a copy
    assert shown.as_dict()["state"] == "PROGRESS 40%"
    assert shown.as_dict()["result"] == "40%"
    state.event(
        {**base, "type": "task-succeeded", "timestamp": 3.0, "clock": 3}
        | {"result": "'completed'", "runtime": 2.0}
    )
    done = format_task(copy.copy(task))
    assert (done.state, done.result) == ("SUCCESS", "'completed'")


def test_jobs_follow_note_shows_position_and_reason_or_placement() -> None:
    reason = "RESOURCES_VRAM: needs 12288 MiB; best GPU gpu-2/GPU-3f2a has 8000 MiB available"
    waiting = Job(
        status="pending", resource_category="gpu_ai", queue_position=3, waiting_reason=reason
    )
    assert job_note(waiting) == f"#3 in gpu_ai · {reason}"
    running = Job(status="running", assigned_host="gpu-2", assigned_gpu="GPU-3f2a")
    assert job_note(running) == "gpu-2 / GPU-3f2a"
    assert job_note(Job(status="pending", resource_category="cpu")) == ""
