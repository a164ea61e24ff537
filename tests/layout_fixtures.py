"""Builders of tiny datasets in each real on-disk layout (Ped2 official / ano_pred, Avenue, ShanghaiTech).

Every builder writes frames whose content is known (:func:`frame_pattern`), ground truth in the layout's
own formats (.m, .mat via scipy, .npy, mask images) and returns a :class:`BuiltDataset` describing
what it wrote, so tests can compare what the adapters read with what was meant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import scipy.io

HEIGHT, WIDTH = 32, 48


@dataclass
class BuiltDataset:
    """What a builder wrote: root, frame counts per split and video, test labels and pixel masks."""

    root: Path
    train: dict[str, int]
    test: dict[str, int]
    labels: dict[str, np.ndarray]
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    height: int = HEIGHT
    width: int = WIDTH


def frame_pattern(video: int, frame: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """uint8 (height, width) gray frame: a level set by (video, frame) plus a horizontal ramp and a bright block.

    Smooth enough for JPEG/MJPG to keep it within a few grey levels, distinct per frame and video.
    """
    level = 40 + (23 * video + 7 * frame) % 120
    ramp = np.linspace(0, 60, width, dtype=np.float32)[None, :]
    image = np.clip(level + ramp + np.zeros((height, 1), np.float32), 0, 255).astype(np.uint8)
    image[: height // 4, : width // 4] = 250
    return image


def abnormal_box(height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """bool (height, width) pixel mask of the abnormal object used on every abnormal frame."""
    mask = np.zeros((height, width), dtype=bool)
    mask[height // 2 : height // 2 + 6, width // 2 : width // 2 + 10] = True
    return mask


def labels_from_intervals(n_frames: int, intervals: list[tuple[int, int]]) -> np.ndarray:
    """uint8 (n_frames,) labels from 1-based inclusive intervals."""
    labels = np.zeros(n_frames, dtype=np.uint8)
    for start, end in intervals:
        labels[start - 1 : end] = 1
    return labels


def masks_for(labels: np.ndarray) -> np.ndarray:
    """bool (N, H, W): the abnormal box on abnormal frames, empty elsewhere."""
    return np.stack([abnormal_box() if flag else np.zeros((HEIGHT, WIDTH), bool) for flag in labels])


def write_image_folder(folder: Path, video: int, n_frames: int, first: int, suffix: str, color: bool) -> None:
    """Frames ``first .. first+n_frames-1`` named ``%03d<suffix>`` (3-channel R=G=B when ``color``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_frames):
        image = frame_pattern(video, i)
        if color:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        assert cv2.imwrite(str(folder / f"{first + i:03d}{suffix}"), image)


def write_mask_folder(folder: Path, masks: np.ndarray, suffix: str) -> None:
    """One 0/255 gray image per mask, named ``001<suffix>`` ... (1-based, like UCSD)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, mask in enumerate(masks):
        assert cv2.imwrite(str(folder / f"{i + 1:03d}{suffix}"), mask.astype(np.uint8) * 255)


def write_avi(path: Path, video: int, n_frames: int) -> None:
    """An MJPG .avi of ``n_frames`` pattern frames (3-channel) at 25 fps."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for i in range(n_frames):
        writer.write(cv2.cvtColor(frame_pattern(video, i), cv2.COLOR_GRAY2BGR))
    writer.release()


def cell_array(items: list[np.ndarray]) -> np.ndarray:
    """A 1xK object array, saved by scipy.io.savemat as a MATLAB cell."""
    cells = np.empty((1, len(items)), dtype=object)
    for k, item in enumerate(items):
        cells[0, k] = item
    return cells


PED2_TRAIN = [6, 5]
PED2_TEST = [7, 6, 5]
PED2_INTERVALS = [[(3, 7)], [(1, 2), (5, 6)], [(2, 4)]]


def make_ped2_official(root: Path) -> BuiltDataset:
    """``root/UCSDped2/{Train/TrainNNN,Test/TestNNN}/NNN.tif`` gray frames, ``TestNNN_gt/NNN.bmp``, ``UCSDped2.m``."""
    base = root / "UCSDped2"
    train, test, labels, masks = {}, {}, {}, {}
    for v, n in enumerate(PED2_TRAIN, start=1):
        write_image_folder(base / "Train" / f"Train{v:03d}", v, n, 1, ".tif", color=False)
        train[f"Train{v:03d}"] = n
    lines = ["TestVideoFile = {};"]
    for v, (n, intervals) in enumerate(zip(PED2_TEST, PED2_INTERVALS), start=1):
        name = f"Test{v:03d}"
        write_image_folder(base / "Test" / name, 10 + v, n, 1, ".tif", color=False)
        test[name] = n
        labels[name] = labels_from_intervals(n, intervals)
        masks[name] = masks_for(labels[name])
        write_mask_folder(base / "Test" / f"{name}_gt", masks[name], ".bmp")
        ranges = ", ".join(f"{a}:{b}" for a, b in intervals)
        lines.append(f"TestVideoFile{{end+1}}.gt_frame = [{ranges}];")
    (base / "Test" / "UCSDped2.m").write_text("\n".join(lines) + "\n")
    return BuiltDataset(root, train, test, labels, masks)


def make_ped2_anopred(root: Path, label_files: tuple[str, ...] = ("mat", "npy"), pixel_masks: bool = True) -> BuiltDataset:
    """``training/frames/01/000.jpg`` (R=G=B JPEG), ``testing/frames``, ``ped2.mat`` / ``frame_labels_ped2.npy``,
    ``gt_pixel_masks/Test001_gt/001.png``."""
    train, test, labels, masks = {}, {}, {}, {}
    for v, n in enumerate(PED2_TRAIN, start=1):
        write_image_folder(root / "training" / "frames" / f"{v:02d}", v, n, 0, ".jpg", color=True)
        train[f"{v:02d}"] = n
    for v, (n, intervals) in enumerate(zip(PED2_TEST, PED2_INTERVALS), start=1):
        name = f"{v:02d}"
        write_image_folder(root / "testing" / "frames" / name, 10 + v, n, 0, ".jpg", color=True)
        test[name] = n
        labels[name] = labels_from_intervals(n, intervals)
        if pixel_masks:
            masks[name] = masks_for(labels[name])
            write_mask_folder(root / "gt_pixel_masks" / f"Test{v:03d}_gt", masks[name], ".png")
    if "mat" in label_files:
        gt = [np.array(iv, dtype=np.uint8).T for iv in PED2_INTERVALS]
        scipy.io.savemat(root / "ped2.mat", {"gt": cell_array(gt)})
    if "npy" in label_files:
        np.save(root / "frame_labels_ped2.npy", np.concatenate(list(labels.values()))[None, :].astype(np.int64))
    return BuiltDataset(root, train, test, labels, masks)


AVENUE_TRAIN = [5, 4]
AVENUE_TEST = [6, 5]
AVENUE_OFFICIAL = [[(2, 4)], [(1, 5)]]
AVENUE_MNAD = [[(3, 5)], [(2, 3)]]


def make_avenue(root: Path) -> tuple[BuiltDataset, dict[str, np.ndarray]]:
    """``training_videos/01.avi``, ``testing_videos/01.avi`` (MJPG), official ``N_label.mat`` masks and a
    differing ``frame_labels_avenue.npy``. Returns the dataset (official labels + masks) and the MNAD labels."""
    train, test, labels, masks, mnad = {}, {}, {}, {}, {}
    mask_dir = root / "ground_truth_demo" / "testing_label_mask"
    mask_dir.mkdir(parents=True)
    for v, n in enumerate(AVENUE_TRAIN, start=1):
        write_avi(root / "training_videos" / f"{v:02d}.avi", v, n)
        train[f"{v:02d}"] = n
    for v, n in enumerate(AVENUE_TEST, start=1):
        name = f"{v:02d}"
        write_avi(root / "testing_videos" / f"{name}.avi", 10 + v, n)
        test[name] = n
        labels[name] = labels_from_intervals(n, AVENUE_OFFICIAL[v - 1])
        masks[name] = masks_for(labels[name])
        mnad[name] = labels_from_intervals(n, AVENUE_MNAD[v - 1])
        scipy.io.savemat(mask_dir / f"{v}_label.mat", {"volLabel": cell_array([m.astype(np.uint8) for m in masks[name]])})
    np.save(root / "frame_labels_avenue.npy", np.concatenate(list(mnad.values()))[None, :].astype(np.int8))
    return BuiltDataset(root, train, test, labels, masks), mnad


SHT_TRAIN = {"01_001": 5, "01_002": 4, "02_001": 4, "03_001": 4}
SHT_TEST = {"01_0014": 6, "01_0015": 5, "02_0128": 5}
SHT_INTERVALS = {"01_0014": [(2, 3)], "01_0015": [(4, 5)], "02_0128": [(1, 2)]}


def make_shanghaitech(root: Path, pixel_masks: bool = True) -> BuiltDataset:
    """``training/videos/NN_XXX.avi`` (scene 03 has no test videos), ``testing/frames/NN_XXXX/000.jpg``,
    ``testing/test_frame_mask/*.npy`` and, when asked, ``testing/test_pixel_mask/*.npy``."""
    train, test, labels, masks = {}, {}, {}, {}
    for v, (name, n) in enumerate(SHT_TRAIN.items(), start=1):
        write_avi(root / "training" / "videos" / f"{name}.avi", v, n)
        train[name] = n
    (root / "testing" / "test_frame_mask").mkdir(parents=True)
    for v, (name, n) in enumerate(SHT_TEST.items(), start=1):
        write_image_folder(root / "testing" / "frames" / name, 10 + v, n, 0, ".jpg", color=True)
        test[name] = n
        labels[name] = labels_from_intervals(n, SHT_INTERVALS[name])
        np.save(root / "testing" / "test_frame_mask" / f"{name}.npy", labels[name].astype(np.int64))
        if pixel_masks:
            masks[name] = masks_for(labels[name])
            (root / "testing" / "test_pixel_mask").mkdir(exist_ok=True)
            np.save(root / "testing" / "test_pixel_mask" / f"{name}.npy", masks[name].astype(np.uint8))
    return BuiltDataset(root, train, test, labels, masks)
