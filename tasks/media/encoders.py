"""Which H.264 encoder a job uses: NVENC when it holds a GPU and NVENC really works here.

``ffmpeg -encoders`` lists what the binary was built with; a distribution build lists
``h264_nvenc`` even on a machine without an NVIDIA driver, so the listing alone is not
enough: one tiny trial encode (cached per process and GPU) confirms it.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from tasks.media.ffargs import (
    DEFAULT_CRF,
    DEFAULT_PRESET,
    FFMPEG,
    NVENC_H264,
    SOFTWARE_H264,
    VideoEncoder,
    build_trial_encode_argv,
)

TRIAL_TIMEOUT_S = 30.0
_ENCODER_LINE = re.compile(r"^\s*[VAS][A-Z.]{5}\s+(?P<name>\S+)\s")


@dataclass(frozen=True)
class EncoderChoice:
    """The encoder picked for a job and a sentence for the job log saying why."""

    encoder: VideoEncoder
    reason: str


def parse_encoder_list(text: str) -> frozenset[str]:
    """Encoder names from the output of ``ffmpeg -encoders``."""
    names = set()
    for line in text.splitlines():
        match = _ENCODER_LINE.match(line)
        if match and match["name"] != "=":
            names.add(match["name"])
    return frozenset(names)


def choose_encoder(
    gpu_uuid: str | None,
    listed: frozenset[str],
    nvenc_trial: tuple[bool, str] | None,
    preset: str = DEFAULT_PRESET,
    crf: int = DEFAULT_CRF,
) -> EncoderChoice:
    """NVENC when the job holds a GPU and NVENC is listed and passed its trial; else x264."""
    software = VideoEncoder(SOFTWARE_H264, preset, crf)
    if not gpu_uuid:
        return EncoderChoice(software, "encoder libx264 (software): the job holds no GPU")
    if NVENC_H264 not in listed:
        return EncoderChoice(
            software, f"encoder libx264 (software): this ffmpeg has no {NVENC_H264}"
        )
    if nvenc_trial is None or not nvenc_trial[0]:
        why = nvenc_trial[1] if nvenc_trial else "not tried"
        return EncoderChoice(
            software,
            f"encoder libx264 (software): {NVENC_H264} failed its trial on GPU {gpu_uuid}: {why}",
        )
    return EncoderChoice(
        VideoEncoder(NVENC_H264, preset, crf), f"encoder {NVENC_H264} (NVENC) on GPU {gpu_uuid}"
    )


@lru_cache(maxsize=1)
def listed_encoders() -> frozenset[str]:
    """What this ffmpeg binary can encode with (asked once per process)."""
    out = subprocess.run(
        [FFMPEG, "-hide_banner", "-encoders"],
        capture_output=True,
        text=True,
        timeout=TRIAL_TIMEOUT_S,
        check=False,
    )
    return parse_encoder_list(out.stdout)


@lru_cache(maxsize=8)
def nvenc_trial(visible_devices: str) -> tuple[bool, str]:
    """Encode one frame with NVENC on the devices this process sees; (worked, detail)."""
    try:
        out = subprocess.run(
            build_trial_encode_argv(NVENC_H264),
            capture_output=True,
            text=True,
            timeout=TRIAL_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if out.returncode == 0:
        return True, "ok"
    lines = [ln for ln in out.stderr.strip().splitlines() if ln.strip()]
    return False, lines[-1] if lines else f"exit {out.returncode}"


def encoder_for_job(
    gpu_uuid: str | None, preset: str = DEFAULT_PRESET, crf: int = DEFAULT_CRF
) -> EncoderChoice:
    """The adapter: ask ffmpeg (cached) and choose."""
    listed = listed_encoders() if gpu_uuid else frozenset()
    trial = None
    if gpu_uuid and NVENC_H264 in listed:
        trial = nvenc_trial(os.environ.get("CUDA_VISIBLE_DEVICES", ""))
    return choose_encoder(gpu_uuid, listed, trial, preset, crf)
