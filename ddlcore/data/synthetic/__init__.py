"""The built-in synthetic benchmark: fixed-camera walkway scenes with labelled anomalies.

Each scene is one fixed camera (:mod:`.scene`): a textured ground seen in perspective,
paved walkways, a band of buildings and trees at the top, a few lamp posts, trees, hedges or
pillars. Pedestrians walk the walkways (:mod:`.motion`) and are drawn as small articulated
figures with motion blur (:mod:`.render`); every frame gets an illumination flicker and
sensor noise. Training videos hold normal activity only; test videos add carts, cyclists,
runners and erratic walkers. Everything is drawn from ``synthetic.seed``: the same settings give
the same bytes.

Layout under the dataset root::

    manifest.json            written last; format_version, dataset, seed, fps, height, width,
                             fingerprint (of the synthetic settings), settings, kinds, and
                             videos: [{name, scene, split, file, n_frames, abnormal_frames,
                             objects, anomalous_objects}]
    {split}/{scene}_{index:03d}.h5     split "train" or "test"; scene "01", "02", ...

One HDF5 file per video (format version 1)::

    /frames            uint8   (N, H, W, 3)  RGB, one frame per chunk
    /labels            uint8   (N,)          test only: 1 = an anomalous object is visible
    /masks             uint8   (N, H, W)     test only: 1 = pixel of a visible anomalous object
    /boxes/frame       int32   (K,)          one row per visible object and frame, sorted by frame
    /boxes/ident       int32   (K,)          object id >= 1, stable over the object's lifetime
    /boxes/box         float32 (K, 4)        x_min, y_min, x_max, y_max (pixel edges) of its visible pixels
    /boxes/visible     float32 (K,)          visible pixels / pixels of its whole silhouette
    /boxes/kind        uint8   (K,)          index into attrs kind_names
    /boxes/anomalous   uint8   (K,)          1 for anomalous objects
    attrs: format_version, dataset, scene, split, video, fps, seed, kind_names

A pixel is an object's when at least ``visible_alpha`` of it shows that object after everything
nearer has been painted over it; an object is visible in a frame when it owns one pixel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np
from tqdm import tqdm

from ...config import fingerprint
from ...errors import DDLError
from ...io_utils import atomic_path
from ..base import SPLITS, DatasetAdapter, Video, VideoInfo
from ..boxes_io import BoxTable
from ..settings import DataSettings, SyntheticSettings
from .motion import KINDS, Agent, anomalous_agents, normal_agents
from .render import compose, draw_agent
from .scene import Scene, make_scene

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_RANGE_KEYS = ("person_height", "horizon_band", "walkways", "occluders", "walk_speed", "anomalies_per_video",
               "abnormal_fraction")


def check_settings(synthetic: SyntheticSettings) -> None:
    """Checks the schema cannot express: every [low, high] range of the synthetic section is ordered.

    Raises DDLError naming the first key at fault.
    """
    ranges = {key: getattr(synthetic, key) for key in _RANGE_KEYS}
    ranges.update({f"anomaly_speed.{k}": v for k, v in synthetic.anomaly_speed.as_config().items()})
    for key, (lo, hi) in ranges.items():
        if lo > hi:
            raise DDLError(f"config: key 'synthetic.{key}': range [{lo}, {hi}] has low > high")
    far, near = synthetic.person_height
    if near == far:
        raise DDLError("config: key 'synthetic.person_height': near and far sizes must differ (perspective)")


def planned_videos(synthetic: SyntheticSettings, split: str, root: Path = Path()) -> list[Video]:
    """The videos ``generate`` writes for ``split``, from the synthetic settings alone.

    Names are ``{scene}_{index:03d}`` (scene ``01``, ``02``, ...; index from 1 in each split);
    ``source`` is ``root / split / name.h5`` (relative when ``root`` is left out).
    """
    if split not in SPLITS:
        raise DDLError(f"unknown split {split!r} (expected one of {', '.join(SPLITS)})")
    count = synthetic.train_videos if split == "train" else synthetic.test_videos
    videos = []
    for s in range(1, synthetic.scenes + 1):
        for i in range(1, count + 1):
            name = f"{s:02d}_{i:03d}"
            videos.append(Video(name, f"{s:02d}", split, Path(root) / split / f"{name}.h5"))
    return videos


@dataclass
class RenderedVideo:
    """One generated video: frames uint8 (N, H, W, 3), masks uint8 (N, H, W), labels uint8 (N,),
    and box rows (``box_columns`` name -> array of K rows, sorted by frame)."""

    frames: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    box_columns: dict[str, np.ndarray]


def _seed(synthetic: SyntheticSettings, *parts: int) -> np.random.Generator:
    """A generator seeded by ``synthetic.seed`` and the given integers (scene, split, video)."""
    return np.random.default_rng([synthetic.seed, *parts])


def _flicker_gains(synthetic: SyntheticSettings, n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """float32 (N,): per-frame illumination gain, an AR(1) process around 1 with std ``flicker``."""
    gains = np.empty(n_frames, np.float32)
    g = float(rng.normal())
    for t in range(n_frames):
        g = 0.8 * g + 0.6 * float(rng.normal())
        gains[t] = 1.0 + synthetic.flicker * g
    return gains


def render_video(scene: Scene, agents: list[Agent], synthetic: SyntheticSettings, rng: np.random.Generator,
                 desc: str = "") -> RenderedVideo:
    """Draw ``synthetic.frames`` frames of ``agents`` in ``scene`` with flicker and noise.

    Object ids are numbered from 1 in order of first appearance. Shows a progress bar named ``desc``.
    """
    n, h, w = synthetic.frames, synthetic.height, synthetic.width
    frames = np.empty((n, h, w, 3), np.uint8)
    masks = np.zeros((n, h, w), np.uint8)
    gains = _flicker_gains(synthetic, n, rng)
    rows: list[tuple[int, int, float, float, float, float, float]] = []
    for t in tqdm(range(n), desc=desc, unit="frame", leave=False, disable=None):
        layers = {i: layer for i, a in enumerate(agents) if (layer := draw_agent(a, scene, t, synthetic)) is not None}
        image, visibility = compose(scene, layers)
        image = image * gains[t] + rng.standard_normal(image.shape, np.float32) * synthetic.noise_std
        frames[t] = np.clip(np.rint(image), 0, 255).astype(np.uint8)
        for i, vis in visibility.items():
            top, left = max(vis.top, 0), max(vis.left, 0)
            weight = vis.weight[top - vis.top : h - vis.top, left - vis.left : w - vis.left]
            own = weight >= synthetic.visible_alpha
            if not own.any():
                continue
            r, c = np.nonzero(own)
            rows.append((t, i, left + c.min(), top + r.min(), left + c.max() + 1, top + r.max() + 1,
                         float(own.sum()) / max(vis.silhouette, 1)))
            if agents[i].anomalous:
                masks[t, top : top + own.shape[0], left : left + own.shape[1]] |= own
    table = np.array(rows, np.float64).reshape(-1, 7)
    agent_index = table[:, 1].astype(int)
    first_seen = {}
    for t, i in zip(table[:, 0].astype(int), agent_index):
        first_seen.setdefault(int(i), t)
    ident = {i: k + 1 for k, i in enumerate(sorted(first_seen, key=lambda i: (first_seen[i], i)))}
    columns = {
        "frame": table[:, 0].astype(np.int32),
        "ident": np.array([ident[int(i)] for i in agent_index], np.int32),
        "box": table[:, 2:6].astype(np.float32),
        "visible": np.minimum(table[:, 6], 1.0).astype(np.float32),
        "kind": np.array([KINDS.index(agents[i].kind) for i in agent_index], np.uint8),
        "anomalous": np.array([agents[i].anomalous for i in agent_index], np.uint8),
    }
    labels = masks.reshape(n, -1).any(axis=1).astype(np.uint8)
    return RenderedVideo(frames, masks, labels, columns)


def _write_video(path: Path, video: Video, data: RenderedVideo, synthetic: SyntheticSettings) -> None:
    """Write one video file atomically (layout in the module docstring)."""
    n, h, w = data.frames.shape[:3]
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("frames", data=data.frames, chunks=(1, h, w, 3))
        if video.split == "test":
            f.create_dataset("labels", data=data.labels)
            f.create_dataset("masks", data=data.masks, chunks=(1, h, w), compression="gzip", compression_opts=4)
        group = f.create_group("boxes")
        for key, values in data.box_columns.items():
            group.create_dataset(key, data=values)
        f.attrs.update(format_version=FORMAT_VERSION, dataset="synthetic", scene=video.scene, split=video.split,
                       video=video.name, fps=float(synthetic.fps), seed=synthetic.seed, kind_names=list(KINDS))


def generate(synthetic: SyntheticSettings, root: Path) -> None:
    """Generate the whole benchmark of the ``synthetic`` settings under ``root`` (layout in the module docstring).

    Any old ``manifest.json`` is removed first and the new one written last, so the manifest
    exists only over a complete dataset. Shows a progress bar per video.
    """
    check_settings(synthetic)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MANIFEST).unlink(missing_ok=True)
    scenes: dict[str, Scene] = {}
    entries = []
    for split_code, split in enumerate(SPLITS):
        for video in planned_videos(synthetic, split, root):
            index = int(video.name.split("_")[1])
            if video.scene not in scenes:
                scenes[video.scene] = make_scene(synthetic, _seed(synthetic, int(video.scene)))
            scene = scenes[video.scene]
            rng = _seed(synthetic, int(video.scene), split_code, index)
            agents = normal_agents(scene, synthetic, synthetic.frames, rng)
            if split == "test":
                agents += anomalous_agents(scene, synthetic, synthetic.frames, rng)
            data = render_video(scene, agents, synthetic, rng, desc=f"{split}/{video.name}")
            _write_video(video.source, video, data, synthetic)
            ids = data.box_columns["ident"]
            entries.append({
                "name": video.name, "scene": video.scene, "split": split,
                "file": video.source.relative_to(root).as_posix(), "n_frames": synthetic.frames,
                "abnormal_frames": int(data.labels.sum()) if split == "test" else 0,
                "objects": int(len(np.unique(ids))),
                "anomalous_objects": int(len(np.unique(ids[data.box_columns["anomalous"] == 1]))),
            })
    settings = synthetic.as_config()
    manifest = {
        "format_version": FORMAT_VERSION, "dataset": "synthetic", "seed": synthetic.seed, "fps": float(synthetic.fps),
        "height": synthetic.height, "width": synthetic.width, "fingerprint": fingerprint(settings), "settings": settings,
        "kinds": list(KINDS), "videos": entries,
    }
    with atomic_path(root / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1))


class SyntheticDataset(DatasetAdapter):
    """Read access to a generated synthetic benchmark (``root`` holds ``manifest.json``)."""

    name = "synthetic"
    label_variant = "official"

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        path = self.root / MANIFEST
        if not path.is_file():
            raise DDLError(f"synthetic dataset not generated: {path} missing (run 'ddl synthesize --out {self.root}')")
        try:
            self.manifest = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise DDLError(f"{path} is not valid JSON ({exc}); re-run 'ddl synthesize --out {self.root}'") from exc
        if self.manifest.get("format_version") != FORMAT_VERSION:
            raise DDLError(f"{path}: format version {self.manifest.get('format_version')}, expected {FORMAT_VERSION}")
        self._entries = {(e["split"], e["name"]): e for e in self.manifest["videos"]}

    def videos(self, split: str) -> list[Video]:
        """Videos of ``split`` in manifest order; DDLError if there are none."""
        videos = [Video(e["name"], e["scene"], split, self.root / e["file"]) for e in self.manifest["videos"]
                  if e["split"] == split]
        if not videos:
            raise DDLError(f"{self.root / MANIFEST}: no {split!r} videos")
        return videos

    def info(self, video: Video) -> VideoInfo:
        """Frame count, size and fps from the manifest."""
        entry = self._entries[(video.split, video.name)]
        return VideoInfo(entry["n_frames"], self.manifest["height"], self.manifest["width"], self.manifest["fps"])

    def _open(self, video: Video) -> h5py.File:
        """The video's HDF5 file; DDLError naming it if missing or unreadable."""
        if not video.source.is_file():
            raise DDLError(f"synthetic video file missing: {video.source} (re-run 'ddl synthesize --out {self.root}')")
        try:
            return h5py.File(video.source, "r")
        except OSError as exc:
            raise DDLError(f"{video.source} is not a readable HDF5 file: {exc}") from exc

    def read_frames(self, video: Video) -> Iterator[np.ndarray]:
        """Yield uint8 (H, W, 3) RGB frames."""
        with self._open(video) as f:
            for t in range(f["frames"].shape[0]):
                yield f["frames"][t]

    def frame_labels(self, video: Video) -> np.ndarray | None:
        """uint8 (N,) frame labels of a test video; None for training videos."""
        if video.split != "test":
            return None
        with self._open(video) as f:
            return f["labels"][:]

    def pixel_masks(self, video: Video) -> Iterator[np.ndarray] | None:
        """Test videos: an iterator of bool (H, W) anomaly masks per frame; None for training videos."""
        if video.split != "test":
            return None
        return self._iter_masks(video)

    def _iter_masks(self, video: Video) -> Iterator[np.ndarray]:
        with self._open(video) as f:
            for t in range(f["masks"].shape[0]):
                yield f["masks"][t].astype(bool)

    def true_boxes(self, video: Video) -> BoxTable:
        """Boxes of every visible object at the generated resolution: kind "truth", ident = object id,
        score = visible fraction of the object's silhouette."""
        with self._open(video) as f:
            g = f["boxes"]
            return BoxTable(
                frame=g["frame"][:], box=g["box"][:], score=g["visible"][:], ident=g["ident"][:],
                n_frames=int(f["frames"].shape[0]), height=int(f["frames"].shape[1]), width=int(f["frames"].shape[2]),
                kind="truth", attrs={"dataset": "synthetic", "video": video.name},
            )

    def anomalous_ids(self, video: Video) -> set[int]:
        """Ids of the anomalous objects of ``video`` (empty for training videos)."""
        with self._open(video) as f:
            g = f["boxes"]
            return {int(i) for i in np.unique(g["ident"][:][g["anomalous"][:] == 1])}


def open_adapter(root: Path, settings: DataSettings) -> SyntheticDataset:
    """The adapter of ``settings``' dataset (its root already checked), for :mod:`ddlcore.data.registry`."""
    return SyntheticDataset(root)
