"""Change-gated scoring (``score.gate``): a window whose frames have not changed is not run through the model.

Change measure. Each frame, at the model's size, is made gray, set to 0 outside the camera's region of
interest and averaged over :data:`CELL` x :data:`CELL` pixel cells (:func:`frame_cells`): float32 gray levels
0..255, one per cell. Frame a differs from frame b (:func:`frame_change`) by a global gain g (the median of
a / b over the watched cells bright enough to tell, :data:`MIN_BRIGHTNESS`, at most :data:`GAIN_CELLS` of them
spread over the frame: exposure, flicker) and local changes |a - g b|. Both are counted in gray levels: the
local change of each watched cell, and what the gain does to the brightest one, |g - 1| max(b). The change of
window w (frames w .. w+T-1) is measured against the last *scored* window s, frame w+k against frame s+k for
k = 0 .. T-1 (:func:`window_changed`). A cell mean averages out the pixels' noise, and comparing every cell
with its own level keeps a small moving object from being diluted by the still rest of the frame.

Rule. Window w is scored when no window has been scored yet (the start of a video, or a stream's restart),
or when for some k a cell's local change exceeds that cell's gate level, or the gain's change exceeds the
lowest level; otherwise it is *gated*: it takes the last scored window's score, box and error map. Why this
is right for a reconstruction score: the score of a window is a fixed function of its T frames (the model in
eval mode; region of interest, background map and patch pooling fixed by the calibration), so a window whose
every frame equals the matching frame of the last scored window up to the camera's own noise has that
window's input, and so its score up to what the noise moves the score. A change of brightness is a change of
the input like any other (the score follows it): it is tolerated only within the same noise. Measuring
against the last scored window and not the previous one keeps slow change (dusk, a creeping object) from
accumulating unscored: once it adds up to more than a level, a window is scored and becomes the new reference.

Noise map. Fitted on the calibration footage (:func:`fit_gate_noise`), one value per cell, from the local
changes between consecutive frames (the gain removed: the sensor's and the codec's noise, not the scene's
flicker). A compressed camera's codec leaves about half the cells exactly unchanged from one frame to the
next (48-50 % of the cell changes of the UMN lawn and plaza calibration footage are under 1/32 gray level,
5 % on the synthetic footage's sensor noise) and updates the others by up to a few gray levels, so a cell's
noise is the :data:`NOISE_QUANTILE` quantile of its *non-zero* changes (from half a histogram bin, 1/32 gray
level): the size of an update, whether one comes in every frame (sensor noise) or in every other (a codec).
A quantile, not the largest change, so that objects passing through the cell in a minority of the frame
pairs leave it alone (on the UMN lawn and plaza calibration footage, people walking all the time, the busiest
cell held someone in 21 % of the pairs, 99 % of the cells in under 15 %). The map is then held between the
typical cell's noise m (the median over the watched cells updated at least once, at least
:data:`MIN_NOISE`: footage without noise, rendered or a still image) and :data:`NOISE_CEILING` x m. No cell
is taken as quieter than the typical one: the codec updates any cell now and then (the empty lawn's
most-changed cells were barely the calibration's noisiest: rank correlation 0.15-0.25). And no cell's level
can hide an object: a cell where people walked often gets at most twice the typical level.

A cell's gate level is ``score.gate_margin`` x its noise (:func:`gate_levels`); the default 4.7 is 6 standard
deviations of a cell's change on Gaussian sensor noise (the first gate's single level, validated on Ped2 and
the synthetic footage), and gates every pair of empty-lawn frames (their most-changed cell moves 2.7-6.1 gray
levels; at 4.7 the largest is 0.87 of its cell's level, docs/alarms.md). A window compares T x cells values
against levels in the noise's tail: noise alone seldom scores a window, anything that moves scores it.

The same :class:`WindowGate` decides offline (:func:`scored_windows`, :func:`gated_window_errors`) and live
(:class:`ddlcore.live.scorer.BatchScorer`), so both gate the same windows.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Iterator, Sequence

import cv2
import numpy as np
import torch

from .inference import FrameSource, FrameSpan, window_errors

#: side in pixels (at the model's size) of the square cells whose mean gray level the gate compares
CELL = 4
#: the lowest noise of a cell, gray levels of a cell mean (footage without noise: rendered, or a still image);
#: four bins of the histograms
MIN_NOISE = 0.25
#: cells darker than this (gray levels) do not enter the gain: their ratios are mostly noise
MIN_BRIGHTNESS = 16.0
#: at most this many cells, evenly spread, give the gain (its median's cost)
GAIN_CELLS = 512
#: a cell's noise is this quantile of its non-zero consecutive-frame changes: objects in fewer than 1 - it of
#: them leave it alone
NOISE_QUANTILE = 0.8
#: no cell's noise is taken above this multiple of the typical (median) cell's
NOISE_CEILING = 2.0
#: bins per gray level of the per-cell histograms of changes the noise is fitted on (a 4x4 cell mean of 8-bit
#: pixels moves in steps of 1/16)
HISTOGRAM_BINS = 16
#: changes above this many gray levels share the histograms' last bin (only objects change a cell that much)
HISTOGRAM_TOP = 64
#: frames read at a time by the offline gate
READ_FRAMES = 256


def frame_cells(frames: np.ndarray, roi: np.ndarray | None = None) -> np.ndarray:
    """Cell means of frames: uint8 (n, H, W, C) (C = 1, or 3 RGB) at the model's size -> float32 (n, h, w), the
    gray level averaged over :data:`CELL` x :data:`CELL` cells (h = max(1, H // CELL), likewise w), 0 outside
    ``roi`` (bool (H, W) watched pixels; None: the whole frame)."""
    n, height, width, channels = frames.shape
    size = (max(1, width // CELL), max(1, height // CELL))
    mask = None if roi is None else np.where(roi, 255, 0).astype(np.uint8)
    cells = np.empty((n, size[1], size[0]), np.float32)
    for i, frame in enumerate(frames):
        gray = frame[..., 0] if channels == 1 else cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        if mask is not None:
            gray = cv2.bitwise_and(np.ascontiguousarray(gray), mask)
        cells[i] = cv2.resize(gray.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    return cells


def watched_cells(shape: tuple[int, ...], roi: np.ndarray | None) -> np.ndarray:
    """bool (h, w) of cells of ``shape`` holding a watched pixel of ``roi`` (bool (H, W); None: every cell)."""
    if roi is None:
        return np.ones(shape, bool)
    return cv2.resize(np.asarray(roi, np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA) > 0


def frame_change(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    """How frame a differs from frame b: their watched cells float32 (n,) each (:func:`frame_cells`).

    Returns (local changes |a - g b| float32 (n,), the gain's change |g - 1| max(b)), gray levels; g the median
    ratio a / b of the cells of b at least :data:`MIN_BRIGHTNESS` bright among :data:`GAIN_CELLS` spread evenly
    (1 when there is none)."""
    step = max(1, len(b) // GAIN_CELLS)
    a_few, b_few = a[::step], b[::step]
    bright = b_few >= MIN_BRIGHTNESS
    ratios = a_few[bright] / b_few[bright]
    # the median (the upper one of an even count), by partition: a fraction of np.median's cost on so few values
    gain = max(float(np.partition(ratios, len(ratios) // 2)[len(ratios) // 2]), 1e-3) if len(ratios) else 1.0
    return np.abs(a - np.float32(gain) * b), abs(gain - 1.0) * float(b.max(initial=0.0))


def window_changed(window: Sequence[np.ndarray], reference: Sequence[np.ndarray], levels: np.ndarray,
                   gain_level: float) -> bool:
    """Whether a window differs from a reference window beyond the gate's levels: some frame's local change of a
    cell above that cell's level, or its gain's change above ``gain_level``, against the matching reference frame.

    window, reference: T float32 (n,) arrays of watched cells each (:func:`frame_change`); levels: float32 (n,)
    the watched cells' gate levels, gray levels; gain_level: gray levels (the lowest cell level)."""
    for a, b in zip(reversed(window), reversed(reference)):  # the newest frame first: where a change shows first
        local, gain_change = frame_change(a, b)
        if gain_change > gain_level or bool(np.any(local > levels)):
            return True
    return False


def fit_gate_noise(videos: Iterable[FrameSource], roi: np.ndarray | None = None) -> np.ndarray:
    """The noise map of a camera from its normal footage (see the module docstring).

    videos: uint8 (N_i, H, W, C) sources at the model's size, all of one size; roi: bool (H, W) watched pixels
    or None. Returns float32 (h, w) at cell resolution (:func:`frame_cells`), gray levels: each watched cell's
    :data:`NOISE_QUANTILE` quantile of its local changes (gain removed) between consecutive frames, held
    between m and :data:`NOISE_CEILING` x m, m the median watched cell's and at least :data:`MIN_NOISE`; cells
    outside ``roi`` hold m, and so does every cell of footage without two frames.
    """
    bins = HISTOGRAM_TOP * HISTOGRAM_BINS + 1
    counts: np.ndarray | None = None  # (watched cells, bins): each cell's histogram, footage of any length
    shape: tuple[int, ...] = (1, 1)
    watched = np.ones(shape, bool)
    for video in videos:
        previous = None
        for start in range(0, len(video), READ_FRAMES):
            cells = frame_cells(video[start : start + READ_FRAMES], roi)
            if counts is None:
                shape = cells.shape[1:]
                watched = watched_cells(shape, roi)
                counts = np.zeros((int(watched.sum()), bins), np.int64)
            stacked = (cells if previous is None else np.concatenate([previous, cells]))[:, watched]
            previous = cells[-1:]
            if len(stacked) < 2:
                continue
            changes = np.stack([frame_change(a, b)[0] for a, b in zip(stacked[1:], stacked[:-1])])
            index = np.minimum(np.round(changes * HISTOGRAM_BINS), bins - 1).astype(np.int64)
            index += np.arange(counts.shape[0]) * bins  # cell i's bins are i * bins ...
            counts += np.bincount(index.ravel(), minlength=counts.size).reshape(counts.shape)
    noise = np.full(shape, MIN_NOISE, np.float32)
    if counts is None or not counts.any():
        return noise
    cumulative = np.cumsum(counts[:, 1:], axis=1)  # bin 0 (under half a bin): frames the codec left alone there
    updated = cumulative[:, -1] > 0
    quantile = (1 + np.argmax(cumulative >= NOISE_QUANTILE * cumulative[:, -1:], axis=1)) / HISTOGRAM_BINS
    typical = max(float(np.median(quantile[updated])) if updated.any() else 0.0, MIN_NOISE)
    noise[:] = typical
    noise[watched] = np.clip(np.where(updated, quantile, typical), typical, NOISE_CEILING * typical)
    return noise


def gate_levels(noise: np.ndarray, margin: float) -> np.ndarray:
    """The gate levels of a noise map (:func:`fit_gate_noise`, float32 (h, w)): float32 (h, w) gray levels,
    ``margin`` (``score.gate_margin``) x each cell's noise."""
    return (np.float32(margin) * noise).astype(np.float32)


class WindowGate:
    """The gate of one stream of frames: decides for each full window whether the model scores it.

    clip: the window's length T; levels: float32 (h, w) the camera's gate level per cell (:func:`gate_levels`),
    None for no gate (every window scored); roi: bool (H, W) watched pixels or None. :meth:`add` each frame
    (uint8 (H, W, C) at the model's size); once T frames are in, :meth:`must_score` decides about the newest
    window.
    """

    def __init__(self, clip: int, levels: np.ndarray | None, roi: np.ndarray | None = None) -> None:
        self.levels = levels
        self.roi = roi
        self.watched: np.ndarray | None = None
        self.watched_levels = np.zeros(0, np.float32)
        self.gain_level = 0.0
        self.cells: deque[np.ndarray] = deque(maxlen=clip)
        self.reference: list[np.ndarray] | None = None

    def add(self, frame: np.ndarray) -> None:
        """One new frame, uint8 (H, W, C) at the model's size (nothing to do without a gate)."""
        if self.levels is not None:
            self.add_cells(frame_cells(frame[None], self.roi)[0])

    def add_cells(self, cells: np.ndarray) -> None:
        """One new frame given by its cells float32 (h, w) (:func:`frame_cells`), of the levels' shape."""
        if self.watched is None:
            if self.levels is None or self.levels.shape != cells.shape:
                raise ValueError(f"gate levels of shape {None if self.levels is None else self.levels.shape} for "
                                 f"frames of {cells.shape} cells")
            self.watched = watched_cells(cells.shape, self.roi)
            self.watched_levels = np.ascontiguousarray(self.levels[self.watched], np.float32)
            self.gain_level = float(self.watched_levels.min(initial=np.inf))
        self.cells.append(cells[self.watched])

    def must_score(self) -> bool:
        """Whether the window of the last T frames must be scored (then it becomes the reference): always
        without a gate or a scored window; else when it changed beyond the levels (:func:`window_changed`)."""
        if self.levels is None:
            return True
        if self.reference is not None and not window_changed(self.cells, self.reference, self.watched_levels,
                                                             self.gain_level):
            return False
        self.reference = list(self.cells)
        return True

    def reset(self) -> None:
        """Forget the frames and the reference (the stream restarted): its next window is scored."""
        self.cells.clear()
        self.reference = None


def scored_windows(frames: FrameSource, clip: int, levels: np.ndarray | None,
                   roi: np.ndarray | None = None) -> np.ndarray:
    """Which windows of one video the gate scores: bool (N - clip + 1,), window j = frames j .. j + clip - 1.

    frames: uint8 (N, H, W, C) at the model's size, N >= clip; levels: float32 (h, w) the camera's gate levels
    (:func:`gate_levels`), None for no gate (all True); roi: bool (H, W) or None. The decisions of a
    :class:`WindowGate` fed the frames one by one."""
    windows = len(frames) - clip + 1
    if levels is None:
        return np.ones(windows, bool)
    gate = WindowGate(clip, levels, roi)
    scored = np.empty(windows, bool)
    for start in range(0, len(frames), READ_FRAMES):
        for offset, cells in enumerate(frame_cells(frames[start : start + READ_FRAMES], roi)):
            gate.add_cells(cells)
            index = start + offset - clip + 1
            if index >= 0:
                scored[index] = gate.must_score()
    return scored


def scored_runs(scored: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive True in bool (W,): [(first, stop)] with stop exclusive."""
    padded = np.concatenate([[False], scored, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def gated_window_errors(model: torch.nn.Module, frames: FrameSource, clip: int, batch_size: int, device: torch.device,
                        scored: np.ndarray, share_encoder: bool = True, desc: str = "score", autocast: bool = True,
                        roi: np.ndarray | None = None, motion_weight: float = 0.0) -> Iterator[torch.Tensor]:
    """:func:`ddlcore.score.inference.window_errors` of every window of one video, with the model run on the
    ``scored`` windows only (bool (N - clip + 1,), :func:`scored_windows`; window 0 must be scored): a gated
    window's row is a copy of the last scored window's. Yields float (b, H, W) batches of ``batch_size`` rows in
    window order; the other arguments are :func:`window_errors`'s."""
    if not scored[0]:
        raise ValueError("the first window of a video is always scored")
    if scored.all():  # nothing gated (the gate off): window_errors' own batches
        yield from window_errors(model, frames, clip, batch_size, device, share_encoder, desc, autocast, roi,
                                 motion_weight)
        return

    def scored_rows() -> Iterator[torch.Tensor]:
        for first, stop in scored_runs(scored):
            span = FrameSpan(frames, first, stop + clip - 1)
            for batch in window_errors(model, span, clip, batch_size, device, share_encoder, desc, autocast, roi,
                                       motion_weight):
                yield from batch.split(1)

    rows = scored_rows()
    last: torch.Tensor | None = None
    batch: list[torch.Tensor] = []
    for keep in scored:
        if keep:
            last = next(rows)
        assert last is not None
        batch.append(last)
        if len(batch) == batch_size:
            yield torch.cat(batch)
            batch = []
    if batch:
        yield torch.cat(batch)
