"""Reaction types, their emoji and labels, the seed's video time format, and the answer shape
of one reaction (pure)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from mediaq.jsonfmt import iso

REACTIONS: dict[str, tuple[str, str]] = {
    "like": ("👍", "Like"),
    "love": ("❤️", "Love"),
    "laugh": ("😂", "Laugh"),
    "wow": ("😮", "Wow"),
    "sad": ("😢", "Sad"),
    "angry": ("😠", "Angry"),
}


def format_video_time(seconds: int) -> str:
    """The seed's ``formatVideoTime``: 27 -> "0:27", 90 -> "1:30", 3661 -> "1:01:01"."""
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h > 0:
        return f"{h}:{m:02d}:{s:02d}"
    return f"{m}:{s:02d}"


def reaction_config() -> list[dict[str, str]]:
    """``GET /api/reactions/config``: every type with its emoji and label."""
    return [{"type": t, "emoji": e, "label": label} for t, (e, label) in REACTIONS.items()]


class Reaction(BaseModel):
    """One reaction as the seed prints it (8 keys, with emoji and formatted time)."""

    model_config = ConfigDict(extra="forbid")

    id: int
    mediaId: int
    userId: int
    reactionType: Literal[tuple(REACTIONS)]  # type: ignore[valid-type]
    videoTimestamp: int
    emoji: str
    formattedTime: str
    createdAt: str | None


def reaction_json(
    id_: int,
    media_id: int,
    user_id: int,
    reaction_type: str,
    video_timestamp: int,
    created_at: datetime,
) -> dict[str, Any]:
    """One reaction, built through its model (a key it does not declare cannot slip in)."""
    return Reaction(
        id=id_,
        mediaId=media_id,
        userId=user_id,
        reactionType=reaction_type,
        videoTimestamp=video_timestamp,
        emoji=REACTIONS[reaction_type][0],
        formattedTime=format_video_time(video_timestamp),
        createdAt=iso(created_at),
    ).model_dump()
