"""Training clips: random windows of T frames within one video, with one tracked object's masks.

Each item is drawn by ``(window index, draw seed)`` pairs from :class:`EpochSampler`: every random
choice of an item (which track, a random box) comes from its own seed, so the batches of an epoch
are the same whatever the number of loader workers, and a resumed run replays them exactly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..data.framestore import FrameStore
from ..errors import DDLError
from ..track.mask_cache import MaskCache, rasterise_boxes


class ClipDataset(Dataset):
    """Windows of ``frames`` (T) frames over paired frame stores and mask caches (same video order).

    ``dataset[(index, seed)]`` returns a dict:
      clip      float32 (C, T, H, W) in [0, 1]
      mask      float32 (1, T, H, W) filled boxes of one random track present in all T frames
                (broadcast over channels by the losses), all zero when there is none and
                ``no_track == "skip"``
      has_mask  bool
    ``dataset_name`` is the first frame store's ``dataset`` attribute.
    ``no_track == "random_box"`` gives windows without a track a random box whose sides are a
    uniform fraction in ``random_box_size`` of the frame's, the same box in all T frames.
    Windows are centred so that both the T-frame clip and the mask cache's window fit the video;
    when the cache's window is longer than T, the middle T of its masks are used.
    """

    def __init__(self, frame_paths: list[str | Path], mask_paths: list[str | Path], frames: int,
                 no_track: str, random_box_size: tuple[float, float]) -> None:
        if len(frame_paths) != len(mask_paths):
            raise DDLError(f"train: {len(frame_paths)} frame stores but {len(mask_paths)} mask caches "
                           "(give one mask cache per frame store, in the same order)")
        if not frame_paths:
            raise DDLError("train: no training videos given (--frames is empty)")
        self.frame_paths = [Path(p) for p in frame_paths]
        self.mask_paths = [Path(p) for p in mask_paths]
        self.frames, self.no_track = frames, no_track
        self.random_box_size = (float(random_box_size[0]), float(random_box_size[1]))
        windows: list[tuple[int, int]] = []
        shapes = set()
        self.dataset_name = ""
        self.mask_window = 0
        for v, (fp, mp) in enumerate(zip(self.frame_paths, self.mask_paths)):
            with FrameStore(fp) as store, MaskCache(mp) as cache:
                n, h, w, c = store.shape
                if (cache.n_frames, cache.height, cache.width) != (n, h, w):
                    raise DDLError(f"mask cache {mp} is for {cache.n_frames} frames of {cache.height}x{cache.width}, "
                                   f"but frame store {fp} has {n} frames of {h}x{w}")
                if cache.window < frames:
                    raise DDLError(f"mask cache {mp} has windows of {cache.window} frames, shorter than the clip "
                                   f"length {frames} (rebuild the masks with model.frames)")
                if self.mask_window and cache.window != self.mask_window:
                    raise DDLError(f"mask cache {mp} has windows of {cache.window} frames, others {self.mask_window}")
                self.mask_window = cache.window
                shapes.add((h, w, c))
                if v == 0:
                    self.dataset_name = str(store.attrs.get("dataset", ""))
                half = max(frames, cache.window) // 2
                windows.extend((v, t) for t in range(half, n - half))
        if len(shapes) != 1:
            raise DDLError(f"train: frame stores differ in size {sorted(shapes)}; all videos of a scene need one size")
        self.height, self.width, self.channels = shapes.pop()
        if self.height % 16 or self.width % 16:
            raise DDLError(f"frame store {self.frame_paths[0]}: frames of {self.height}x{self.width}; "
                           "height and width must be divisible by 16")
        if not windows:
            raise DDLError(f"train: no video among {len(self.frame_paths)} has a full window of "
                           f"{max(frames, self.mask_window)} frames")
        self.windows = np.array(windows, dtype=np.int64)
        self._open: dict[int, tuple[int, list[FrameStore], list[MaskCache]]] = {}

    def __len__(self) -> int:
        return len(self.windows)

    def _files(self) -> tuple[list[FrameStore], list[MaskCache]]:
        """This process's open files (HDF5 handles must not cross a fork)."""
        pid = os.getpid()
        if pid not in self._open:
            self._open = {pid: (pid, [FrameStore(p) for p in self.frame_paths], [MaskCache(p) for p in self.mask_paths])}
        _, stores, caches = self._open[pid]
        return stores, caches

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor | bool]:
        index, seed = key
        video, centre = (int(i) for i in self.windows[index])
        rng = np.random.default_rng(seed)
        stores, caches = self._files()
        frames = stores[video].window(centre, self.frames)  # (T, H, W, C) uint8
        clip = torch.from_numpy(np.ascontiguousarray(frames.transpose(3, 0, 1, 2))).float().div_(255.0)
        tracks = caches[video].tracks_in_window(centre)
        cut = (self.mask_window - self.frames) // 2
        if len(tracks):
            masks = caches[video].window_mask(centre, int(rng.choice(tracks)))[cut : cut + self.frames]
            has_mask = True
        elif self.no_track == "random_box":
            masks = rasterise_boxes(np.repeat(self._random_box(rng)[None], self.frames, axis=0), self.height, self.width)
            has_mask = True
        else:
            masks = np.zeros((self.frames, self.height, self.width), np.float32)
            has_mask = False
        return {"clip": clip, "mask": torch.from_numpy(masks)[None], "has_mask": has_mask}

    def _random_box(self, rng: np.random.Generator) -> np.ndarray:
        """One box x0, y0, x1, y1 (float32 (4,)) with sides a random fraction of the frame's, placed uniformly."""
        lo, hi = self.random_box_size
        bw, bh = rng.uniform(lo, hi) * self.width, rng.uniform(lo, hi) * self.height
        x0, y0 = rng.uniform(0, self.width - bw), rng.uniform(0, self.height - bh)
        return np.array([x0, y0, x0 + bw, y0 + bh], np.float32)


class EpochSampler(Sampler):
    """Yields ``num_samples`` (window index, draw seed) pairs per epoch from a generator seeded by (seed, epoch).

    Indices are successive random permutations of the windows (no window repeats before all are
    used). Call :meth:`set_epoch` before iterating.
    """

    def __init__(self, n_windows: int, num_samples: int, seed: int) -> None:
        self.n_windows, self.num_samples, self.seed = n_windows, num_samples, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose draws the next iteration yields."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[tuple[int, int]]:
        rng = np.random.default_rng([self.seed, self.epoch, 0])
        reps = -(-self.num_samples // self.n_windows)
        order = np.concatenate([rng.permutation(self.n_windows) for _ in range(reps)])[: self.num_samples]
        seeds = rng.integers(0, 2**62, size=self.num_samples)
        return iter(zip(order.tolist(), seeds.tolist()))
