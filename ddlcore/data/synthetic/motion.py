"""Synthetic benchmark, part 2: who moves where. Trajectories on the ground plane, frame by frame.

Normal activity: pedestrians arrive on every walkway in both directions (a Poisson process of
``pedestrian_rate`` arrivals per second per direction), keep a lateral place on the strip and
walk at a speed drawn from ``walk_speed`` (m/s). Arrivals start before frame 0 so a video opens
on a populated scene; people enter and leave the view at the walkways' ends.

Anomalies (test videos only), one kind per event, drawn from ``anomaly_kinds``:
``cart`` (a small wheeled cart: a shape and size never seen in training), ``cyclist`` (shape and
speed), ``runner`` (a person moving far faster than walking), ``erratic`` (a person whose heading
jumps randomly every frame). Each enters at a walkway end at a drawn frame; event times are
re-drawn until the fraction of test frames with an anomaly in view lies in ``abnormal_fraction``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..settings import SyntheticSettings
from .scene import Camera, Scene, Walkway

#: object kinds; the index is the kind code stored in the box tables
KINDS = ("pedestrian", "cart", "cyclist", "runner", "erratic")
#: approximate (height, width) in metres of each kind, for the in-view test during planning
KIND_SIZE_M = {"pedestrian": (1.75, 0.6), "cart": (1.0, 1.7), "cyclist": (1.8, 1.8), "runner": (1.75, 0.8), "erratic": (1.75, 0.6)}


@dataclass
class Agent:
    """One moving object. Per-frame arrays cover frames -1..N (index t + 1), NaN when absent.

    x, z: ground position (metres); phase: gait or pedal phase (radians).
    height_m: standing height; colours: named RGB triplets for the renderer.
    """

    kind: str
    anomalous: bool
    height_m: float
    colours: dict[str, tuple[float, float, float]]
    x: np.ndarray
    z: np.ndarray
    phase: np.ndarray

    def __post_init__(self) -> None:
        alive = np.flatnonzero(np.isfinite(self.x))
        # agents exist over one contiguous run of frames: keep it as plain floats for fast lookups
        self._first = int(alive[0]) - 1 if len(alive) else 0
        self._track = [(float(self.x[i]), float(self.z[i]), float(self.phase[i])) for i in alive]

    def present(self, t: int) -> bool:
        """Whether the agent exists at frame ``t``."""
        return bool(np.isfinite(self.x[t + 1]))

    def state(self, time: float) -> tuple[float, float, float, float, float]:
        """Ground x, z, phase and velocity (vx, vz in metres per frame) at a fractional frame time,
        interpolated between frames and clamped to the frames the agent exists in."""
        track, last = self._track, len(self._track) - 1
        u = min(max(time - self._first, 0.0), float(last))
        i = min(int(u), max(last - 1, 0))
        a, b = track[i], track[min(i + 1, last)]
        f = u - i
        x, z, phase = (a[k] + f * (b[k] - a[k]) for k in range(3))
        return x, z, phase, b[0] - a[0], b[1] - a[1]


def _colours(rng: np.random.Generator) -> dict[str, tuple[float, float, float]]:
    """Random clothing, skin and vehicle colours (RGB 0..255)."""
    skins = np.array([[236, 188, 160], [198, 140, 105], [141, 85, 60], [90, 60, 45]], np.float64)

    def pick(lo: float, hi: float) -> tuple[float, float, float]:
        return tuple(float(v) for v in rng.uniform(lo, hi, 3))

    return {
        "shirt": pick(25, 235), "trousers": pick(20, 120), "skin": tuple(float(v) for v in skins[rng.integers(4)]),
        "body": pick(40, 240), "frame": pick(20, 90),
    }


def _cycle_length(kind: str) -> float:
    """Metres travelled per gait (or pedal) cycle."""
    return {"pedestrian": 1.4, "erratic": 1.4, "runner": 2.6, "cyclist": 4.5, "cart": 1.0}[kind]


def _along_walkway(way: Walkway, lateral: float, speed: float, spawn: float, n_frames: int, fps: float,
                   reverse: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ground x, z and distance walked at frames -1..N for straight walking along ``way``."""
    t = np.arange(-1, n_frames + 1, dtype=np.float64)
    dist = speed * (t - spawn) / fps
    start, end = (way.end, way.start) if reverse else (way.start, way.end)
    direction = (end - start) / way.length
    pos = start[None, :] + dist[:, None] * direction[None, :] + lateral * way.normal[None, :]
    alive = (dist >= 0) & (dist <= way.length)
    x = np.where(alive, pos[:, 0], np.nan)
    z = np.where(alive, pos[:, 1], np.nan)
    return x, z, np.where(alive, dist, np.nan)


def _erratic_path(way: Walkway, lateral: float, speed: float, spawn: float, n_frames: int, fps: float,
                  reverse: bool, jitter_deg: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ground x, z and distance walked at frames -1..N for a walk whose heading jumps every frame.

    The heading aims at a point 2 m further along the walkway (so the agent still crosses the
    scene) plus a fresh N(0, jitter_deg) deviation per frame; the step length also varies +-50%.
    """
    start, end = (way.end, way.start) if reverse else (way.start, way.end)
    direction = (end - start) / way.length
    size = n_frames + 2
    x, z, walked = (np.full(size, np.nan) for _ in range(3))
    first = int(np.ceil(spawn)) + 1  # index of the first frame at or after the spawn time
    pos = start + lateral * way.normal
    total = 0.0
    for i in range(first, size):  # steps before frame -1 (index 0) are walked but not recorded
        along = float((pos - start) @ direction)
        if along > way.length:
            break
        if i >= 0:
            x[i], z[i], walked[i] = pos[0], pos[1], total
        target = start + (along + 2.0) * direction + lateral * way.normal
        heading = np.arctan2(*(target - pos)[::-1]) + np.deg2rad(rng.normal(0.0, jitter_deg))
        step = speed / fps * rng.uniform(0.5, 1.5)
        pos = pos + step * np.array([np.cos(heading), np.sin(heading)])
        total += step
    return x, z, walked


def make_agent(kind: str, anomalous: bool, scene: Scene, synthetic: SyntheticSettings, spawn: float, n_frames: int,
               rng: np.random.Generator, way: Walkway | None = None, reverse: bool | None = None) -> Agent:
    """One agent of ``kind`` entering a walkway (random unless given) at time ``spawn`` (frames), its speed drawn
    from ``synthetic.walk_speed`` (pedestrians) or ``synthetic.anomaly_speed``."""
    way = scene.walkways[int(rng.integers(len(scene.walkways)))] if way is None else way
    reverse = bool(rng.random() < 0.5) if reverse is None else reverse
    lateral = float(rng.uniform(-0.35, 0.35)) * way.width
    speed_range = synthetic.walk_speed if kind == "pedestrian" else getattr(synthetic.anomaly_speed, kind)
    speed = float(rng.uniform(*speed_range))
    fps = float(synthetic.fps)
    if kind == "erratic":
        x, z, dist = _erratic_path(way, lateral, speed, spawn, n_frames, fps, reverse, synthetic.erratic_jitter_deg, rng)
    else:
        x, z, dist = _along_walkway(way, lateral, speed, spawn, n_frames, fps, reverse)
    phase = 2 * np.pi * dist / _cycle_length(kind) + rng.uniform(0, 2 * np.pi)
    height = float(np.clip(rng.normal(1.72, 0.07), 1.55, 1.92))
    return Agent(kind, anomalous, height, _colours(rng), x, z, phase)


def in_view(agent: Agent, camera: Camera) -> np.ndarray:
    """bool (N+2,): frames -1..N at which the agent's approximate box overlaps the visible ground area."""
    h_m, w_m = KIND_SIZE_M[agent.kind]
    with np.errstate(invalid="ignore"):
        col, row = camera.project(agent.x, agent.z)
        ppm = camera.pixels_per_metre(agent.z)
        left, right = col - w_m / 2 * ppm, col + w_m / 2 * ppm
        return (row >= camera.ground_top) & (row - h_m * ppm < camera.height - 1) & (right > 1) & (left < camera.width - 1)


def normal_agents(scene: Scene, synthetic: SyntheticSettings, n_frames: int, rng: np.random.Generator) -> list[Agent]:
    """Pedestrians on every walkway and direction over the video, arrivals starting early enough
    that the view is populated at frame 0. Agents never in view are dropped."""
    fps = float(synthetic.fps)
    agents = []
    for way in scene.walkways:
        lead = way.length / synthetic.walk_speed[0] * fps  # frames the slowest walker needs to cross
        for reverse in (False, True):
            span = n_frames + lead
            count = int(rng.poisson(synthetic.pedestrian_rate * span / fps))
            for spawn in np.sort(rng.uniform(-lead, n_frames, count)):
                agent = make_agent("pedestrian", False, scene, synthetic, float(spawn), n_frames, rng, way, reverse)
                if in_view(agent, scene.camera).any():
                    agents.append(agent)
    return agents


def anomalous_agents(scene: Scene, synthetic: SyntheticSettings, n_frames: int, rng: np.random.Generator,
                     tries: int = 200) -> list[Agent]:
    """Anomaly events of one test video: ``anomalies_per_video`` agents of distinct random kinds
    (while kinds last), their walkways and times re-drawn
    (up to ``tries`` times) until the fraction of frames with one in view lies in
    ``abnormal_fraction``, none is in view at frame 0 and each is in view for at least a tenth of
    the video (no event cut to a few frames by the video's end); else the draw closest to that."""
    lo, hi = synthetic.abnormal_fraction
    count = int(rng.integers(synthetic.anomalies_per_video[0], synthetic.anomalies_per_video[1] + 1))
    # kinds are fixed before the re-draws, so that slow kinds are not weeded out by the time limits
    kinds = [str(k) for k in rng.permutation(synthetic.anomaly_kinds)]
    kinds = [kinds[i % len(kinds)] for i in range(count)]
    best, best_gap = [], np.inf
    for _ in range(tries):
        agents = [make_agent(kind, True, scene, synthetic, float(rng.uniform(0, n_frames)), n_frames, rng) for kind in kinds]
        views = [in_view(a, scene.camera)[1:-1] for a in agents]
        fraction = float(np.mean(np.any(views, axis=0)))
        complete = all(v.sum() >= n_frames / 10 and not v[0] for v in views)
        gap = max(lo - fraction, fraction - hi, 0.0) + (0.0 if complete else 1.0)
        if gap < best_gap:
            best, best_gap = agents, gap
        if gap == 0.0:
            break
    return best
