"""ffmpeg command lines and the encoder choice (pure; real runs are in the integration tests)."""

from __future__ import annotations

import pytest

from tasks.media.encoders import choose_encoder, parse_encoder_list
from tasks.media.ffargs import (
    Frame,
    Segment,
    VideoEncoder,
    build_concat_argv,
    build_extract_argv,
    build_gif_argv,
    build_grid_argv,
    build_reencode_argv,
    scale_filter,
)

ENCODERS = """Encoders:
 V..... = Video
 A..... = Audio
 ------
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)
 A....D aac                  AAC (Advanced Audio Coding)
"""
GPU = "GPU-3f2a0000-0000-0000-0000-000000000000"


def _after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_parse_encoder_list() -> None:
    assert parse_encoder_list(ENCODERS) == {"libx264", "h264_nvenc", "aac"}


def test_encoder_choice() -> None:
    listed = parse_encoder_list(ENCODERS)
    no_gpu = choose_encoder(None, listed, (True, "ok"))
    assert no_gpu.encoder.name == "libx264" and "holds no GPU" in no_gpu.reason
    works = choose_encoder(GPU, listed, (True, "ok"), preset="slow")
    assert works.encoder.name == "h264_nvenc" and GPU in works.reason
    assert _after(works.encoder.argv(), "-preset") == "p5"
    broken = choose_encoder(GPU, listed, (False, "Cannot load libcuda.so.1"))
    assert broken.encoder.name == "libx264" and "libcuda" in broken.reason
    missing = choose_encoder(GPU, frozenset({"libx264"}), None)
    assert missing.encoder.name == "libx264" and "has no h264_nvenc" in missing.reason


def test_reencode_is_web_ready_h264_aac() -> None:
    argv = build_reencode_argv("in.mov", "out.mp4", VideoEncoder(), max_height=720)
    assert argv[0] == "ffmpeg" and argv[-1] == "out.mp4"
    assert _after(argv, "-progress") == "pipe:1"
    assert _after(argv, "-c:v") == "libx264" and _after(argv, "-c:a") == "aac"
    assert _after(argv, "-movflags") == "+faststart"
    assert _after(argv, "-pix_fmt") == "yuv420p"
    assert "0:a:0?" in argv  # a silent input is fine
    assert _after(argv, "-vf") == scale_filter(720) and "720" in scale_filter(720)


def test_gif_uses_a_palette() -> None:
    argv = build_gif_argv("in.mp4", "out.gif", 1.5, 2.0, 321)
    graph = _after(argv, "-filter_complex")
    assert "palettegen" in graph and "paletteuse" in graph and "scale=320:" in graph
    assert (_after(argv, "-ss"), _after(argv, "-t")) == ("1.500", "2.000")


def test_extract_only_copies_streams() -> None:
    argv = build_extract_argv("in.mp4", "out.mp4", 3, 4)
    assert _after(argv, "-c") == "copy" and "-c:v" not in argv


def test_concat_fits_every_input_and_fills_silence() -> None:
    segments = [Segment("a.mp4", 0, 2.0, True), Segment("b.mp4", 1.0, 3.0, False)]
    argv = build_concat_argv(segments, "out.mp4", Frame(641, 480, 30), VideoEncoder())
    graph = _after(argv, "-filter_complex")
    assert graph.count("scale=640:480:force_original_aspect_ratio=decrease") == 2
    assert "anullsrc=r=48000:cl=stereo:d=3.000" in graph
    assert "concat=n=2:v=1:a=1[v][a]" in graph
    assert argv.count("-i") == 2 and _after(argv, "-ss") == "1.000"


def test_concat_of_silent_inputs_has_no_audio() -> None:
    segments = [Segment("a.mp4", 0, 2.0, False)] * 2
    argv = build_concat_argv(segments, "out.mp4", Frame(320, 240), VideoEncoder())
    assert "-an" in argv and "anullsrc" not in _after(argv, "-filter_complex")


def test_quad_grid_and_side_by_side() -> None:
    four = [Segment(f"{i}.mp4", has_audio=i != 2) for i in range(4)]
    argv = build_grid_argv(four, "q.mp4", Frame(320, 240), 2.0, VideoEncoder(), "quad")
    graph = _after(argv, "-filter_complex")
    assert "xstack=inputs=4:layout=0_0|w0_0|0_h0|w0_h0" in graph
    assert "amix=inputs=3" in graph and _after(argv, "-t") == "2.000"
    side = build_grid_argv(four[:3], "s.mp4", Frame(320, 240), 2.0, VideoEncoder(), "horizontal")
    assert "hstack=inputs=3" in _after(side, "-filter_complex")
    with pytest.raises(ValueError):
        build_grid_argv(four[:3], "q.mp4", Frame(320, 240), 2.0, VideoEncoder(), "quad")
    with pytest.raises(ValueError):
        build_grid_argv(four[:1], "s.mp4", Frame(320, 240), 2.0, VideoEncoder(), "horizontal")
