"""From the data settings to a dataset: the adapter, its videos (honouring ``dataset.scenes``), its scenes.

The Snakefile calls :func:`list_videos` and :func:`training_scenes` while it builds the job graph; for
the synthetic benchmark they answer from the generator's plan, before anything is on disk.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path

from ..errors import DDLError
from .base import DatasetAdapter, Video
from .layout import check_split
from .settings import DataSettings

#: dataset name -> the module of its adapter, imported by name for the dataset asked for only: each module
#: has ``open_adapter(root, settings)`` (the :class:`DataSettings`). The workflow adds :func:`adapter_module` to the
#: code fingerprint of the rules that read a dataset, so an edit of one adapter re-runs nothing of another dataset.
ADAPTER_MODULES: dict[str, str] = {
    "synthetic": "ddlcore.data.synthetic",
    "ped2": "ddlcore.data.ped2",
    "avenue": "ddlcore.data.avenue",
    "shanghaitech": "ddlcore.data.shanghaitech",
    "cameras": "ddlcore.data.cameras",
}
DATASET_NAMES = tuple(ADAPTER_MODULES)
#: the split of held-out normal footage the alarm threshold is calibrated on (dataset ``cameras`` only)
CALIBRATION_SPLIT = "calibration"


def _dataset_name(settings: DataSettings) -> str:
    name = settings.dataset.name
    if name not in DATASET_NAMES:
        raise DDLError(f"config: key 'dataset.name': unknown dataset '{name}' (expected one of: {', '.join(DATASET_NAMES)})")
    return name


def adapter_module(settings: DataSettings) -> str:
    """The dotted name of the module holding the adapter of ``settings.dataset``."""
    return ADAPTER_MODULES[_dataset_name(settings)]


@functools.lru_cache(maxsize=8)
def _open_adapter(name: str, root: Path, settings: DataSettings) -> DatasetAdapter:
    """One adapter per dataset, root and settings per process (the Snakefile asks several times; a camera
    root's warnings print once)."""
    return importlib.import_module(ADAPTER_MODULES[name]).open_adapter(root, settings)


def open_dataset(settings: DataSettings) -> DatasetAdapter:
    """The adapter for ``settings.dataset`` (name, root, labels, labels_file).

    Raises DDLError for an unknown name or a missing root folder.
    """
    name = _dataset_name(settings)
    root = Path(settings.dataset.root)
    if not root.is_dir():
        raise DDLError(f"dataset root not found: {root} (config key dataset.root, dataset {name})")
    return _open_adapter(name, root, settings)


def select_scenes(videos: list[Video], settings: DataSettings, split: str) -> list[Video]:
    """The videos whose scene is in ``dataset.scenes`` (all when it is null); DDLError if none remain."""
    wanted = settings.dataset.scenes
    if wanted is None:
        return videos
    selected = [v for v in videos if v.scene in wanted]
    if not selected:
        available = sorted({v.scene for v in videos})
        raise DDLError(
            f"config: key 'dataset.scenes': {list(wanted)} selects no {split} videos (scenes: {', '.join(available)})"
        )
    return selected


def list_videos(settings: DataSettings, split: str) -> list[Video]:
    """The videos of ``split`` the pipeline processes, in a stable order, restricted to ``dataset.scenes``.

    For ``synthetic`` this is the generator's plan (no disk access), else the adapter's listing.
    """
    if split == CALIBRATION_SPLIT:
        return calibration_videos(settings)
    check_split(split)
    if _dataset_name(settings) == "synthetic":
        planned_videos = importlib.import_module(ADAPTER_MODULES["synthetic"]).planned_videos
        videos = planned_videos(settings.synthetic, split, Path(settings.dataset.root))
    else:
        videos = open_dataset(settings).videos(split)
    if not videos and _dataset_name(settings) == "cameras":
        return videos  # no camera has labelled test clips
    return select_scenes(videos, settings, split)


def calibration_videos(settings: DataSettings) -> list[Video]:
    """Held-out normal footage the alarm threshold is fitted on: the cameras' ``calibration`` split, else []
    (the other datasets calibrate on their training videos)."""
    if _dataset_name(settings) != "cameras":
        return []
    return select_scenes(open_dataset(settings).videos(CALIBRATION_SPLIT), settings, CALIBRATION_SPLIT)


def check_camera_footage(settings: DataSettings) -> None:
    """DDLError naming the first camera whose footage is too short for its clip length, batch and calibration share."""
    if _dataset_name(settings) != "cameras":
        return
    clip, batch = settings.clip_frames, settings.batch_size
    share = settings.cameras.calibration_share
    adapter = open_dataset(settings)
    for scene in sorted({v.scene for v in select_scenes(adapter.videos("train"), settings, "train")}):
        have = {split: [adapter.info(v) for v in adapter.videos(split) if v.scene == scene]
                for split in ("train", CALIBRATION_SPLIT)}
        train_frames = sum(i.n_frames for i in have["train"])
        calibration_frames = sum(i.n_frames for i in have[CALIBRATION_SPLIT])
        need_train, need_calibration = clip + batch - 1, clip if share > 0 else 0
        if train_frames >= need_train and calibration_frames >= need_calibration:
            continue
        need = max(-(-need_train // (1 - share)), -(-need_calibration // share) if share > 0 else 0)
        fps = have["train"][0].fps if have["train"] else 0.0
        seconds = f" ({(train_frames + calibration_frames) / fps:.1f} s)" if fps > 0 else ""
        raise DDLError(
            f"camera {scene} ({adapter.root / scene / 'normal'}): {train_frames} training + {calibration_frames} "
            f"calibration frames of usable footage{seconds}; needs at least {need:.0f} frames in all "
            f"(model.frames={clip}, train.batch_size={batch}, cameras.calibration_share={share})"
        )


def training_scenes(settings: DataSettings) -> list[str]:
    """Sorted scenes that get a model: those with test videos (all of which need training videos).

    A training scene without test videos is left out (nothing to score); a test scene without
    training videos is a DDLError naming it.
    """
    check_camera_footage(settings)
    train_scenes = {v.scene for v in list_videos(settings, "train")}
    test_scenes = sorted({v.scene for v in list_videos(settings, "test")})
    untrained = [s for s in test_scenes if s not in train_scenes]
    if untrained:
        raise DDLError(
            f"dataset {settings.dataset.name}: test scene(s) {', '.join(untrained)} have no training videos "
            f"under {settings.dataset.root} (no model can be trained for them)"
        )
    return test_scenes
