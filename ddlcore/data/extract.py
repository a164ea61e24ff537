"""``ddl frames``: read one video through its dataset adapter (or, for a camera root, its row of the pieces sheet)
and write its frame store.

The store holds the frames resized to ``frames.height`` x ``frames.width`` with ``frames.channels``
channels (see :mod:`ddlcore.data.framestore` for the layout and attributes).
"""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from ..errors import DDLError
from .base import DatasetAdapter, Video
from .framestore import write_frame_store
from .pieces import read_piece, read_piece_row, row_piece
from .registry import open_dataset
from .settings import DataSettings


def find_video(adapter: DatasetAdapter, split: str, name: str) -> Video:
    """The video called ``name`` in ``split``; DDLError naming it if the dataset has no such video."""
    videos = adapter.videos(split)
    found = next((v for v in videos if v.name == name), None)
    if found is None:
        sample = ", ".join(v.name for v in videos[:5]) + (", ..." if len(videos) > 5 else "")
        raise DDLError(f"{adapter.root}: no {split} video named '{name}' in dataset {adapter.name} (has {sample})")
    return found


def extract_frames(settings: DataSettings, split: str, video_name: str, out: str | Path) -> int:
    """Write the frame store of video ``video_name`` of ``split`` of ``settings``' dataset to ``out``; return the
    number of frames.

    Frames are uint8 (N, frames.height, frames.width, frames.channels). A video that cannot be read
    fully raises DDLError and leaves any existing file at ``out`` untouched.
    """
    adapter = open_dataset(settings)
    video = find_video(adapter, split, video_name)
    info = adapter.info(video)
    size = settings.frames
    attrs = {
        "source": str(video.source),
        "original_height": info.height,
        "original_width": info.width,
        "fps": info.fps,
        "dataset": adapter.name,
        "split": split,
        "video": video.name,
        "scene": video.scene,
        "first_frame": adapter.first_frame(video),
    }
    frames = tqdm(adapter.read_frames(video), total=info.n_frames, desc=f"frames {video.name}", unit="frame", disable=None)
    return write_frame_store(out, frames, info.n_frames, size.height, size.width, size.channels, attrs)


def extract_piece(settings: DataSettings, sheet: str | Path, split: str, video_name: str, out: str | Path) -> int:
    """Write the frame store of the piece ``video_name`` of ``split`` that the pieces sheet ``sheet``
    (:mod:`.pieces`) lists, reading that piece's source only; return the number of frames (as :func:`extract_frames`)."""
    row = read_piece_row(sheet, split, video_name)
    piece = row_piece(row)
    n_frames = piece.stop - piece.start
    attrs = {
        "source": row["source"],
        "original_height": piece.info.height,
        "original_width": piece.info.width,
        "fps": piece.info.fps,
        "source_fps": piece.source_fps,
        "dataset": "cameras",
        "split": split,
        "video": video_name,
        "scene": row["camera"],
        "first_frame": piece.start,
    }
    size = settings.frames
    frames = tqdm(read_piece(piece), total=n_frames, desc=f"frames {video_name}", unit="frame", disable=None)
    return write_frame_store(out, frames, n_frames, size.height, size.width, size.channels, attrs)
