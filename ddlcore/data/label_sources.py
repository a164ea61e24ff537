"""Readers for the ground-truth file formats the benchmarks ship, with one-line errors.

- MATLAB v5 ``.mat`` files (``scipy.io.loadmat``): ano_pred ``ped2.mat`` (variable ``gt``, a 1xK cell of
  [start; end] columns, 1-based inclusive) and Avenue ``N_label.mat`` (variable ``volLabel``, 1xT cell of masks).
- UCSD's ``UCSDped2.m`` lists (``TestVideoFile{end+1}.gt_frame = [61:180];``).
- ``.npy`` frame labels, per video or concatenated over all test videos in listing order.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import scipy.io

from ..errors import DDLError

#: one inclusive 1-based frame interval (start, end)
Interval = tuple[int, int]


def load_mat_variable(path: Path, variable: str) -> np.ndarray:
    """The array stored as ``variable`` in the MATLAB v5 file ``path``.

    Raises DDLError naming the file if it is missing, not a v5 .mat file or lacks the variable.
    """
    if not path.is_file():
        raise DDLError(f"{path}: ground-truth file not found")
    try:
        content: dict[str, Any] = scipy.io.loadmat(str(path))
    except NotImplementedError as exc:
        raise DDLError(f"{path}: MATLAB v7.3 files are not supported; re-save it with save(..., '-v7')") from exc
    except (ValueError, TypeError, OSError) as exc:
        raise DDLError(f"{path}: not a readable MATLAB .mat file ({exc})") from exc
    if variable not in content:
        found = sorted(k for k in content if not k.startswith("__"))
        raise DDLError(f"{path}: variable '{variable}' not found (has: {', '.join(found) or 'nothing'})")
    return content[variable]


def read_interval_cells(path: Path, variable: str = "gt") -> list[list[Interval]]:
    """Abnormal intervals per test video from an ano_pred-style .mat file.

    ``variable`` holds a 1xK cell; cell k is a 2xM array whose columns are [start; end]
    (1-based, inclusive) abnormal intervals of test video k. Returns K lists of intervals.
    """
    cells = load_mat_variable(path, variable)
    result: list[list[Interval]] = []
    for k, cell in enumerate(np.asarray(cells, dtype=object).ravel()):
        array = np.asarray(cell, dtype=np.int64)
        if array.size == 0:
            result.append([])
            continue
        if array.ndim != 2 or array.shape[0] != 2:
            raise DDLError(f"{path}: {variable} cell {k + 1} has shape {array.shape}, expected 2 x intervals ([start; end])")
        result.append([(int(s), int(e)) for s, e in array.T])
    return result


_M_ENTRY = re.compile(r"gt_frame\s*=\s*\[([^\]]*)\]")
_M_RANGE = re.compile(r"^(\d+)\s*(?::\s*(\d+))?$")


def read_ucsd_m_file(path: Path) -> list[list[Interval]]:
    """Abnormal intervals per test video from UCSD's ``UCSDped*.m`` list (one ``gt_frame`` line per video).

    ``[61:180]`` is one interval, ``[1:50, 60:100]`` two, ``[7]`` a single frame.
    """
    if not path.is_file():
        raise DDLError(f"{path}: ground-truth file not found")
    result: list[list[Interval]] = []
    for body in _M_ENTRY.findall(path.read_text(errors="replace")):
        intervals: list[Interval] = []
        for part in (p.strip() for p in body.split(",")):
            if not part:
                continue
            match = _M_RANGE.match(part)
            if match is None:
                raise DDLError(f"{path}: cannot read frame range '{part}' of test video {len(result) + 1}")
            start = int(match.group(1))
            intervals.append((start, int(match.group(2) or start)))
        result.append(intervals)
    if not result:
        raise DDLError(f"{path}: no 'gt_frame = [...]' entries found")
    return result


def intervals_to_labels(intervals: Sequence[Interval], n_frames: int, path: Path, video: str) -> np.ndarray:
    """uint8 (n_frames,) labels with 1 inside the 1-based inclusive ``intervals``.

    An interval outside 1..n_frames is mismatched ground truth: DDLError naming ``path`` and ``video``.
    """
    labels = np.zeros(n_frames, dtype=np.uint8)
    for start, end in intervals:
        if not 1 <= start <= end <= n_frames:
            raise DDLError(
                f"{path}: abnormal interval {start}-{end} of video {video} lies outside its {n_frames} frames"
            )
        labels[start - 1 : end] = 1
    return labels


def read_npy_labels(path: Path) -> np.ndarray:
    """Frame labels from a .npy file as uint8 (N,) 0/1; a (1, N) array is flattened."""
    if not path.is_file():
        raise DDLError(f"{path}: ground-truth file not found")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DDLError(f"{path}: not a readable .npy label array ({exc})") from exc
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 1:
        raise DDLError(f"{path}: frame labels must have shape (N,) or (1, N), got {array.shape}")
    if not np.isin(array, (0, 1)).all():
        raise DDLError(f"{path}: frame labels must be 0 or 1")
    return array.astype(np.uint8)


def split_concatenated(labels: np.ndarray, lengths: dict[str, int], path: Path) -> dict[str, np.ndarray]:
    """Cut labels concatenated over videos (in ``lengths`` order) into one (n,) array per video.

    Raises DDLError naming ``path`` and both totals when the sum of ``lengths`` differs from ``len(labels)``.
    """
    total = sum(lengths.values())
    if total != len(labels):
        raise DDLError(
            f"{path}: {len(labels)} frame labels, but the {len(lengths)} test videos have {total} frames"
        )
    offsets = np.cumsum([0, *lengths.values()])
    return {name: labels[a:b] for name, a, b in zip(lengths, offsets[:-1], offsets[1:])}


def check_length(labels: np.ndarray, n_frames: int, path: Path, video: str) -> np.ndarray:
    """Return ``labels`` if it has ``n_frames`` entries, else DDLError naming ``path``, ``video`` and both lengths."""
    if len(labels) != n_frames:
        raise DDLError(f"{path}: {len(labels)} frame labels for video {video}, which has {n_frames} frames")
    return labels
