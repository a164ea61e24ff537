"""From a configuration to a dataset: the adapter, its videos (honouring ``dataset.scenes``), its scenes.

The Snakefile calls :func:`list_videos` and :func:`training_scenes` while it builds the job graph; for
the synthetic benchmark they answer from the generator's plan, before anything is on disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..errors import DDLError
from .base import DatasetAdapter, Video
from .layout import check_split

DATASET_NAMES = ("synthetic", "ped2", "avenue", "shanghaitech")


def _dataset_name(config: dict[str, Any]) -> str:
    name = config["dataset"]["name"]
    if name not in DATASET_NAMES:
        raise DDLError(f"config: key 'dataset.name': unknown dataset '{name}' (expected one of: {', '.join(DATASET_NAMES)})")
    return name


def _constructors(dataset: dict[str, Any]) -> dict[str, Callable[[Path], DatasetAdapter]]:
    """Adapter factory per dataset name; modules are imported only for the dataset asked for."""

    def synthetic(root: Path) -> DatasetAdapter:
        from .synthetic import SyntheticDataset

        return SyntheticDataset(root)

    def ped2(root: Path) -> DatasetAdapter:
        from .ped2 import Ped2Dataset

        return Ped2Dataset(root, labels_file=dataset.get("labels_file"))

    def avenue(root: Path) -> DatasetAdapter:
        from .avenue import AvenueDataset

        return AvenueDataset(root, labels=dataset.get("labels", "official"), labels_file=dataset.get("labels_file"))

    def shanghaitech(root: Path) -> DatasetAdapter:
        from .shanghaitech import ShanghaiTechDataset

        return ShanghaiTechDataset(root, labels_file=dataset.get("labels_file"))

    return {"synthetic": synthetic, "ped2": ped2, "avenue": avenue, "shanghaitech": shanghaitech}


def open_dataset(config: dict[str, Any]) -> DatasetAdapter:
    """The adapter for ``config["dataset"]`` (name, root, labels, labels_file).

    Raises DDLError for an unknown name or a missing root folder.
    """
    name = _dataset_name(config)
    root = Path(config["dataset"]["root"])
    if not root.is_dir():
        raise DDLError(f"dataset root not found: {root} (config key dataset.root, dataset {name})")
    return _constructors(config["dataset"])[name](root)


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
        from .synthetic import planned_videos

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
