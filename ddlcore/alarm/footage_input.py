"""Calibration footage given on the command line: frame stores, video files or frame folders."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..data.footage_reader import load_footage
from ..data.framestore import FrameStore
from ..score.inference import FrameSource
from ..score.scores_io import check_frame_size


@contextlib.contextmanager
def open_inputs(paths: Sequence[str | Path], meta: dict[str, Any],
                default_fps: float) -> Iterator[dict[str, tuple[FrameSource, float]]]:
    """{name: (frames uint8 (N, H, W, C) at the model's size, fps)} of each input, open for the block.

    A ``.h5`` path is a frame store (its frames must already have the model's size; fps from its
    attributes, else ``default_fps``); anything else is footage, decoded leniently and resized.
    Names are the file stems (made unique with a suffix). DDLError naming a store of the wrong size.
    """
    expected = (int(meta["height"]), int(meta["width"]), int(meta["channels"]))
    videos: dict[str, tuple[FrameSource, float]] = {}
    with contextlib.ExitStack() as stack:
        for raw in paths:
            path = Path(raw)
            name = path.stem if path.stem not in videos else f"{path.stem}-{len(videos)}"
            if path.suffix == ".h5":
                store = stack.enter_context(FrameStore(path))
                check_frame_size(store.shape, path, meta)
                videos[name] = (store, float(store.attrs.get("fps") or default_fps))
            else:
                footage = load_footage(path, *expected, default_fps)
                videos[name] = (footage.frames, footage.fps)
        yield videos
