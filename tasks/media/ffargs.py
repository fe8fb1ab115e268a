"""Pure ffmpeg command lines: every media operation's argv is built here from plain values.

Each builder returns the whole argv (starting with ``ffmpeg``) and writes ffmpeg's
machine-readable progress to stdout (``-progress pipe:1``) so the runner can parse it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mediaq.jobparams import DEFAULT_CRF, DEFAULT_PRESET

FFMPEG = "ffmpeg"
SOFTWARE_H264 = "libx264"
NVENC_H264 = "h264_nvenc"
# NVENC's p1 (fastest) .. p7 (best) next to the x264 preset a caller asked for.
NVENC_PRESET_FOR = {
    "ultrafast": "p1",
    "superfast": "p1",
    "veryfast": "p2",
    "faster": "p3",
    "fast": "p3",
    "medium": "p4",
    "slow": "p5",
    "slower": "p6",
    "veryslow": "p7",
}
AUDIO_RATE = 48000
AUDIO_ARGS = ("-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", str(AUDIO_RATE))
EVEN_SIZE = "scale=trunc(iw/2)*2:trunc(ih/2)*2"
QUAD_LAYOUT = "0_0|w0_0|0_h0|w0_h0"


@dataclass(frozen=True)
class VideoEncoder:
    """An H.264 encoder and its quality settings."""

    name: str = SOFTWARE_H264
    preset: str = DEFAULT_PRESET
    crf: int = DEFAULT_CRF

    @property
    def is_hardware(self) -> bool:
        return self.name == NVENC_H264

    def argv(self) -> list[str]:
        """The encoder options: constant quality, yuv420p, High profile (plays everywhere)."""
        if self.is_hardware:
            preset = NVENC_PRESET_FOR.get(self.preset, "p4")
            rate = ["-rc", "vbr", "-cq", str(self.crf), "-b:v", "0"]
            return ["-c:v", NVENC_H264, "-preset", preset, *rate, *_h264_common()]
        return [
            "-c:v",
            SOFTWARE_H264,
            "-preset",
            self.preset,
            "-crf",
            str(self.crf),
            *_h264_common(),
        ]


@dataclass(frozen=True)
class Segment:
    """A stretch of one input file; ``duration`` None means to its end."""

    path: str
    start: float = 0.0
    duration: float | None = None
    has_audio: bool = True


@dataclass(frozen=True)
class Frame:
    """An output frame: size and rate every input is normalised to."""

    width: int
    height: int
    fps: int = 30


def _h264_common() -> tuple[str, ...]:
    return ("-pix_fmt", "yuv420p", "-profile:v", "high")


def fmt_seconds(seconds: float) -> str:
    """Seconds as ffmpeg reads them, to the millisecond."""
    return f"{max(0.0, seconds):.3f}"


def even(value: int) -> int:
    """The even number at or below ``value`` (H.264 4:2:0 needs even sides), at least 2."""
    return max(2, value - value % 2)


def base_argv() -> list[str]:
    """Quiet except for warnings, never interactive, progress as key=value on stdout."""
    return [
        FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-y",
        "-nostats",
        "-loglevel",
        "warning",
        "-progress",
        "pipe:1",
    ]


def scale_filter(max_height: int | None) -> str:
    """Even sides, and at most ``max_height`` lines when given (never upscaled)."""
    if max_height is None:
        return EVEN_SIZE
    return f"scale=-2:'trunc(min(ih,{max_height})/2)*2'"


def build_reencode_argv(
    src: str, dst: str, encoder: VideoEncoder, max_height: int | None = None
) -> list[str]:
    """H.264/AAC MP4 for the web: first video and (optional) audio stream, moov up front."""
    return [
        *base_argv(),
        "-i",
        src,
        "-map",
        "0:v:0",
        "-map",
        "0:a:0?",
        "-sn",
        "-dn",
        "-vf",
        scale_filter(max_height),
        *encoder.argv(),
        *AUDIO_ARGS,
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        dst,
    ]


def build_hls_argv(
    src_mp4: str, playlist: str, segment_pattern: str, seconds: int = 4
) -> list[str]:
    """Repackage an H.264/AAC MP4 as a VOD HLS playlist without encoding again."""
    return [
        *base_argv(),
        "-i",
        src_mp4,
        "-map",
        "0",
        "-c",
        "copy",
        "-f",
        "hls",
        "-hls_time",
        str(seconds),
        "-hls_playlist_type",
        "vod",
        "-hls_segment_filename",
        segment_pattern,
        playlist,
    ]


def build_gif_argv(
    src: str, dst: str, start: float, duration: float, width: int, fps: int = 12, colors: int = 128
) -> list[str]:
    """A small looping GIF through a palette made from the clip itself (palettegen)."""
    graph = (
        f"[0:v]fps={fps},scale={even(width)}:-2:flags=lanczos,split[a][b];"
        f"[a]palettegen=max_colors={colors}:stats_mode=diff[p];"
        "[b][p]paletteuse=dither=bayer:bayer_scale=5"
    )
    return [
        *base_argv(),
        "-ss",
        fmt_seconds(start),
        "-t",
        fmt_seconds(duration),
        "-i",
        src,
        "-filter_complex",
        graph,
        "-loop",
        "0",
        "-f",
        "gif",
        dst,
    ]


def _clip_input(src: str, start: float, duration: float) -> list[str]:
    """Seek, read ``duration`` seconds, keep the first video and (if any) audio stream."""
    return [
        *base_argv(),
        "-ss",
        fmt_seconds(start),
        "-i",
        src,
        "-t",
        fmt_seconds(duration),
        "-map",
        "0:v:0",
        "-map",
        "0:a:0?",
    ]


def build_clip_argv(
    src: str, dst: str, start: float, duration: float, encoder: VideoEncoder
) -> list[str]:
    """A frame-accurate clip, encoded again."""
    return [
        *_clip_input(src, start, duration),
        "-sn",
        "-dn",
        "-vf",
        EVEN_SIZE,
        *encoder.argv(),
        *AUDIO_ARGS,
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        dst,
    ]


def build_extract_argv(src: str, dst: str, start: float, duration: float) -> list[str]:
    """A clip cut without encoding (stream copy): fast, starts at the keyframe at or before."""
    return [
        *_clip_input(src, start, duration),
        "-c",
        "copy",
        "-avoid_negative_ts",
        "make_zero",
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        dst,
    ]


def _segment_inputs(segments: Sequence[Segment]) -> list[str]:
    argv: list[str] = []
    for seg in segments:
        if seg.start > 0:
            argv += ["-ss", fmt_seconds(seg.start)]
        if seg.duration is not None:
            argv += ["-t", fmt_seconds(seg.duration)]
        argv += ["-i", seg.path]
    return argv


def _fit_video(index: int, frame: Frame, label: str) -> str:
    w, h = even(frame.width), even(frame.height)
    return (
        f"[{index}:v]scale={w}:{h}:force_original_aspect_ratio=decrease,"
        f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:black,setsar=1,fps={frame.fps},format=yuv420p,"
        f"setpts=PTS-STARTPTS[{label}]"
    )


def _fit_audio(index: int, seg: Segment, label: str) -> str:
    norm = f"aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo"
    if seg.has_audio:
        return f"[{index}:a]{norm},asetpts=PTS-STARTPTS[{label}]"
    # A silent stretch as long as the picture keeps every later cut in sync.
    length = fmt_seconds(seg.duration or 0.0)
    return f"anullsrc=r={AUDIO_RATE}:cl=stereo:d={length},{norm}[{label}]"


def build_concat_argv(
    segments: Sequence[Segment], dst: str, frame: Frame, encoder: VideoEncoder
) -> list[str]:
    """Concatenate stretches of files, each scaled/padded to ``frame`` and its frame rate.

    Audio is kept when any stretch has some; silent stretches get silence of their own length
    (so every ``Segment.duration`` must be known when a stretch has no audio).
    """
    if not segments:
        raise ValueError("nothing to concatenate")
    with_audio = any(s.has_audio for s in segments)
    parts = [_fit_video(i, frame, f"v{i}") for i in range(len(segments))]
    pads = ""
    for i, seg in enumerate(segments):
        pads += f"[v{i}]"
        if with_audio:
            parts.append(_fit_audio(i, seg, f"a{i}"))
            pads += f"[a{i}]"
    audio_out = 1 if with_audio else 0
    parts.append(
        f"{pads}concat=n={len(segments)}:v=1:a={audio_out}[v]" + ("[a]" if with_audio else "")
    )
    maps = ["-map", "[v]"] + (["-map", "[a]"] if with_audio else [])
    audio = list(AUDIO_ARGS) if with_audio else ["-an"]
    return [
        *base_argv(),
        *_segment_inputs(segments),
        "-filter_complex",
        ";".join(parts),
        *maps,
        *encoder.argv(),
        *audio,
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        dst,
    ]


def build_grid_argv(
    segments: Sequence[Segment],
    dst: str,
    cell: Frame,
    duration: float,
    encoder: VideoEncoder,
    layout: str = "quad",
) -> list[str]:
    """Tile inputs: ``quad`` is 2×2 (four inputs), ``horizontal`` puts 2-4 side by side.

    Every input is fitted into a ``cell`` (so four 320×240 inputs make 640×480); the result
    lasts ``duration`` seconds (the shortest input) and mixes the inputs' audio.
    """
    count = len(segments)
    if layout == "quad" and count != 4:
        raise ValueError("a quad needs exactly four inputs")
    if layout == "horizontal" and not 2 <= count <= 4:
        raise ValueError("side by side takes two to four inputs")
    parts = [_fit_video(i, cell, f"v{i}") for i in range(count)]
    pads = "".join(f"[v{i}]" for i in range(count))
    if layout == "quad":
        parts.append(f"{pads}xstack=inputs=4:layout={QUAD_LAYOUT}:shortest=1[v]")
    else:
        parts.append(f"{pads}hstack=inputs={count}:shortest=1[v]")
    voiced = [i for i, s in enumerate(segments) if s.has_audio]
    maps = ["-map", "[v]"]
    audio = ["-an"]
    if voiced:
        norm = f"aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo"
        for i in voiced:
            parts.append(f"[{i}:a]{norm}[a{i}]")
        mix = "".join(f"[a{i}]" for i in voiced)
        parts.append(f"{mix}amix=inputs={len(voiced)}:duration=shortest:normalize=0[a]")
        maps += ["-map", "[a]"]
        audio = list(AUDIO_ARGS)
    return [
        *base_argv(),
        *_segment_inputs(segments),
        "-filter_complex",
        ";".join(parts),
        *maps,
        "-t",
        fmt_seconds(duration),
        *encoder.argv(),
        *audio,
        "-movflags",
        "+faststart",
        "-f",
        "mp4",
        dst,
    ]


def build_trial_encode_argv(encoder_name: str) -> list[str]:
    """Encode one tiny frame to nowhere: does this encoder really work on this machine?"""
    return [
        FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "color=c=black:s=256x256:r=25:d=0.2",
        "-frames:v",
        "1",
        "-c:v",
        encoder_name,
        "-f",
        "null",
        "-",
    ]
