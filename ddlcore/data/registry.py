"""From a configuration to a dataset: the adapter, its videos (honouring ``dataset.scenes``), its scenes.

The Snakefile calls :func:`list_videos` and :func:`training_scenes` while it builds the job graph; for
the synthetic benchmark they answer from the generator's plan, before anything is on disk.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ..errors import DDLError
from .base import DatasetAdapter, Video
from .layout import check_split

#: dataset name -> the module of its adapter, imported by name for the dataset asked for only: each module
#: has ``open_adapter(root, dataset_section)``. The workflow adds :func:`adapter_module` to the code
#: fingerprint of the rules that read a dataset, so an edit of one adapter re-runs nothing of another dataset.
ADAPTER_MODULES: dict[str, str] = {
    "synthetic": "ddlcore.data.synthetic",
    "ped2": "ddlcore.data.ped2",
    "avenue": "ddlcore.data.avenue",
    "shanghaitech": "ddlcore.data.shanghaitech",
}
DATASET_NAMES = tuple(ADAPTER_MODULES)


def _dataset_name(config: dict[str, Any]) -> str:
    name = config["dataset"]["name"]
    if name not in DATASET_NAMES:
        raise DDLError(f"config: key 'dataset.name': unknown dataset '{name}' (expected one of: {', '.join(DATASET_NAMES)})")
    return name


def adapter_module(config: dict[str, Any]) -> str:
    """The dotted name of the module holding ``config["dataset"]``'s adapter."""
    return ADAPTER_MODULES[_dataset_name(config)]


def open_dataset(config: dict[str, Any]) -> DatasetAdapter:
    """The adapter for ``config["dataset"]`` (name, root, labels, labels_file).

    Raises DDLError for an unknown name or a missing root folder.
    """
    name = _dataset_name(config)
    root = Path(config["dataset"]["root"])
    if not root.is_dir():
        raise DDLError(f"dataset root not found: {root} (config key dataset.root, dataset {name})")
    return importlib.import_module(ADAPTER_MODULES[name]).open_adapter(root, config["dataset"])


def select_scenes(videos: list[Video], config: dict[str, Any], split: str) -> list[Video]:
    """The videos whose scene is in ``dataset.scenes`` (all when it is null); DDLError if none remain."""
    wanted = config["dataset"].get("scenes")
    if wanted is None:
        return videos
    selected = [v for v in videos if v.scene in wanted]
    if not selected:
        available = sorted({v.scene for v in videos})
        raise DDLError(
            f"config: key 'dataset.scenes': {wanted} selects no {split} videos (scenes: {', '.join(available)})"
        )
    return selected


def list_videos(config: dict[str, Any], split: str) -> list[Video]:
    """The videos of ``split`` the pipeline processes, in a stable order, restricted to ``dataset.scenes``.

    For ``synthetic`` this is the generator's plan (no disk access), else the adapter's listing.
    """
    check_split(split)
    if _dataset_name(config) == "synthetic":
        planned_videos = importlib.import_module(ADAPTER_MODULES["synthetic"]).planned_videos
        videos = planned_videos(config["synthetic"], split, Path(config["dataset"]["root"]))
    else:
        videos = open_dataset(config).videos(split)
    return select_scenes(videos, config, split)


def training_scenes(config: dict[str, Any]) -> list[str]:
    """Sorted scenes that get a model: those with test videos (all of which need training videos).

    A training scene without test videos is left out (nothing to score); a test scene without
    training videos is a DDLError naming it.
    """
    train_scenes = {v.scene for v in list_videos(config, "train")}
    test_scenes = sorted({v.scene for v in list_videos(config, "test")})
    untrained = [s for s in test_scenes if s not in train_scenes]
    if untrained:
        raise DDLError(
            f"dataset {config['dataset']['name']}: test scene(s) {', '.join(untrained)} have no training videos "
            f"under {config['dataset']['root']} (no model can be trained for them)"
        )
    return test_scenes
