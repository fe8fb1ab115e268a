"""The parameters of each job type, as pydantic models: one statement of every key, bound and
default, used three ways:

- at enqueue (API, CLI, Python ``enqueue``, pipelines): a bad or missing key is a
  ``ValidationError`` naming it, before any row is written;
- by the handler, which reads its params through the same model (``tasks.media.params``);
- in ``/openapi.json`` (a union discriminated on ``type``) and ``mediaq enqueue --help``.

Keys are camelCase in JSON (``videoId``) and snake_case in Python (``video_id``). Values are
strict: ``"5"`` is not a number and ``true`` is not 1. Defaults that depend on the video (a
frame size, a thumbnail time) are ``None`` here and chosen by the handler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from mediaq.models import DIRECTORY_TYPES

INT32_MAX = 2**31 - 1
MAX_VIDEO_IDS = 64  # a compilation's sources
RANDOM_POOL_LIMIT = 5000  # the videos compile_random chooses from
BATCH_LIMIT = 10_000  # the videos one organize job handles
MAX_NOOP_SECONDS = 7 * 24 * 3600
MAX_GIF_SECONDS = 30.0
MAX_CLIP_SECONDS = 3600.0
X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)
DEFAULT_PRESET = "veryfast"
DEFAULT_CRF = 23
DEFAULT_SCENE_THRESHOLD = 27.0
DEFAULT_FPS = 30
URL_SCHEMES = ("http", "https")
MAX_URL_CHARS = 4096

VideoId = Annotated[int, Field(ge=1, le=INT32_MAX, description="a video's id")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=r"\S")]
PathText = Annotated[str, StringConstraints(min_length=1, max_length=4096, pattern=r"\S")]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
if TYPE_CHECKING:
    Preset = str
    DirectoryType = str
else:  # the tuples above, as JSON Schema enums
    Preset = Literal[X264_PRESETS]
    DirectoryType = Literal[DIRECTORY_TYPES]


def http_url(url: str) -> str:
    """``url`` stripped, when it is http(s) with a host; ValueError saying what is wrong
    (``must be http or https, not 'ftp'``: the caller names the field).

    The URL's shape only: checked at enqueue (``FetchParams``) and again on every redirect
    hop of the download, where the destination's addresses are checked too.
    """
    url = url.strip()
    if not url or len(url) > MAX_URL_CHARS:
        raise ValueError(f"must be a non-empty string of at most {MAX_URL_CHARS} characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in URL_SCHEMES:
        raise ValueError(f"must be http or https, not {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise ValueError("has no host")
    return url


def _checked_url(url: str) -> str:
    try:
        return http_url(url)
    except ValueError as exc:  # an error of its own type: the message gets the field's name
        raise PydanticCustomError("http_url", str(exc)) from None


def example(params: dict[str, Any]) -> ConfigDict:
    """A valid params object of the type (shown in the OpenAPI document, used by tests)."""
    return ConfigDict(json_schema_extra={"examples": [params]})


def id_list(minimum: int, maximum: int) -> Any:
    return Field(min_length=minimum, max_length=maximum, description="video ids, in order")


class JobParams(BaseModel):
    """Keys every job type accepts: planning hints read by the scheduler."""

    model_config = ConfigDict(
        extra="forbid", strict=True, alias_generator=to_camel, populate_by_name=True, frozen=True
    )

    expected_seconds: Seconds | None = Field(
        None, description="how long this job will run; plans backfill around a held GPU job"
    )
    uses_encoder: bool | None = Field(
        None, description="whether the job takes an NVENC session (gpu_encode only)"
    )


class NoopParams(JobParams):
    """Sleeps ``seconds`` (reporting progress), or fails as asked; other keys are kept."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{"seconds": 1}]})

    seconds: Annotated[float, Field(ge=0, le=MAX_NOOP_SECONDS, allow_inf_nan=False)] = 0
    fail: Literal["permanent", "transient"] | bool | None = None
    stubborn: bool = Field(
        False,
        description="hold in a process that ignores SIGTERM, and ignore the cancel: only "
        "the worker's hard stop ends it (for checking a fleet)",
    )


class ScanParams(JobParams):
    model_config = example({"root": "/library/inbox"})

    root: PathText | None = Field(None, description="the folder to walk; default: the library")


class VideoParams(JobParams):
    video_id: VideoId


class ThumbnailParams(VideoParams):
    model_config = example({"videoId": 1, "at": 2.5})

    at: Seconds | None = Field(None, description="seconds into the video; default: 10 %")
    width: Annotated[int, Field(ge=16, le=1920)] = 320


class OrganizeParams(JobParams):
    model_config = example({"videoIds": [1, 2]})

    video_ids: Annotated[list[VideoId] | None, id_list(1, BATCH_LIMIT)] = Field(
        None, description="the videos to organize; default: every video not yet organized"
    )


class ReencodeParams(VideoParams):
    model_config = example({"videoId": 1, "preset": "fast", "hls": True})

    preset: Preset = DEFAULT_PRESET
    crf: Annotated[int, Field(ge=0, le=51)] = DEFAULT_CRF
    max_height: Annotated[int, Field(ge=0, le=4320)] = Field(0, description="0: keep the height")
    hls: bool = False


class FrameParams(JobParams):
    width: Annotated[int, Field(ge=16, le=3840)] | None = None
    height: Annotated[int, Field(ge=16, le=2160)] | None = None
    fps: Annotated[int, Field(ge=1, le=60)] = DEFAULT_FPS


class CompilationParams(FrameParams):
    model_config = example({"videoIds": [1, 2, 3]})

    video_ids: Annotated[list[VideoId], id_list(1, MAX_VIDEO_IDS)]


class CompileRandomParams(FrameParams):
    model_config = example({"count": 4, "clipSeconds": 3.0, "directoryType": "videos"})

    count: Annotated[int, Field(ge=1, le=50)] = 4
    clip_seconds: Annotated[float, Field(ge=0.2, le=600.0)] = 5.0
    seed: Annotated[int, Field(ge=-(2**63), le=2**63 - 1)] | None = Field(
        None, description="default: the job id"
    )
    video_ids: Annotated[list[VideoId] | None, id_list(1, RANDOM_POOL_LIMIT)] = None
    orientation: Annotated[str, StringConstraints(min_length=1, max_length=20)] | None = None
    directory_type: DirectoryType | None = None


class GridParams(JobParams):
    cell_width: Annotated[int, Field(ge=16, le=3840)] | None = None
    cell_height: Annotated[int, Field(ge=16, le=2160)] | None = None
    fps: Annotated[int, Field(ge=1, le=60)] = DEFAULT_FPS
    duration: Annotated[float, Field(ge=0.1, allow_inf_nan=False)] | None = None


class QuadParams(GridParams):
    model_config = example({"videoIds": [1, 2, 3, 4]})

    video_ids: Annotated[list[VideoId], id_list(4, 4)]


class QuadHorizontalParams(GridParams):
    model_config = example({"videoIds": [1, 2]})

    video_ids: Annotated[list[VideoId], id_list(2, 4)]


class GifParams(VideoParams):
    model_config = example({"videoId": 1, "start": 1.0, "duration": 2.0})

    start: Seconds = 0.0
    duration: Annotated[float, Field(ge=0.1, le=MAX_GIF_SECONDS)] = 3.0
    width: Annotated[int, Field(ge=16, le=1280)] = 320
    fps: Annotated[int, Field(ge=1, le=30)] = 12


class ClipParams(VideoParams):
    model_config = example({"videoId": 1, "start": 0.5, "duration": 3.0})

    start: Seconds
    duration: Annotated[float, Field(ge=0.05, le=MAX_CLIP_SECONDS)]


class HighlightParams(VideoParams):
    model_config = example({"videoId": 1, "count": 3})

    count: Annotated[int, Field(ge=1, le=20)] = 3
    segment_seconds: Annotated[float, Field(ge=0.2, le=60.0)] = 4.0


class SceneParams(VideoParams):
    model_config = example({"videoId": 1})

    threshold: Annotated[float, Field(ge=1.0, le=100.0)] = DEFAULT_SCENE_THRESHOLD
    width: Annotated[int, Field(ge=32, le=1920)] = 480


class TagParams(VideoParams):
    model_config = example({"videoId": 1})

    model: PathText | None = Field(None, description="a tagger model file; default: the library's")


class DigestParams(VideoParams):
    model_config = example({"videoId": 1, "maxScenes": 6})

    seconds_per_scene: Annotated[float, Field(ge=0.2, le=30.0)] = 2.0
    max_scenes: Annotated[int, Field(ge=1, le=50)] = 8


class FetchParams(JobParams):
    model_config = example({"url": "https://example.com/clip.mp4"})

    url: Annotated[PathText, AfterValidator(_checked_url)] = Field(
        description="an http(s) URL with a host; where it resolves is checked on fetch"
    )


class AutoPublishParams(VideoParams):
    model_config = example({"videoId": 1, "category": "highlights"})

    category: (
        Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=r"\S")] | None
    ) = None
    hls: bool = False
    cpu_only: bool = False


class PublishParams(VideoParams):
    model_config = example({"videoId": 1})

    category: (
        Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S")] | None
    ) = Field(None, description="the gallery category; default: the video's directory type")
    path: PathText | None = Field(None, description="the file to publish; default: re-encode")


class StoryboardParams(JobParams):
    model_config = example({"mediaId": 1})

    media_id: Annotated[int, Field(ge=1, le=INT32_MAX, description="a gallery item's id")]
    interval: Annotated[float, Field(ge=0.5, le=3600, allow_inf_nan=False)] | None = Field(
        None, description="seconds between frames; default: 1 s, more for long videos"
    )
    width: Annotated[int, Field(ge=40, le=640)] = 160
    columns: Annotated[int, Field(ge=1, le=20)] = 5
    rows: Annotated[int, Field(ge=1, le=20)] = 5


class UnpublishParams(JobParams):
    model_config = example({"mediaId": 1})

    media_id: VideoId | None = None
    video_id: VideoId | None = None

    @model_validator(mode="after")
    def one_of(self) -> UnpublishParams:
        if self.media_id is None and self.video_id is None:
            raise ValueError("give mediaId or videoId")
        return self
