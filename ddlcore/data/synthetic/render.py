"""Synthetic benchmark, part 3: drawing agents and compositing a frame with per-object visibility.

Each agent is a small articulated figure built from primitives (lines, discs, rectangles) in
metres around its foot point, scaled by the camera's pixels per metre at its depth:
pedestrians (head, torso, swinging arms and legs), runners (longer stride, forward lean),
cyclists (wheels, frame, a rider pedalling), carts (box body on wheels). Sideways motion shows
the swing; motion towards or away from the camera foreshortens it. Motion blur: the figure is
drawn at several instants spread over ``exposure`` of the frame interval and averaged.

Compositing paints the static occluders and agents far to near (by foot row) and tracks, for
every agent, the fraction of each pixel that is still its own after everything in front of it
has been painted (its *visibility*). A pixel belongs to an agent when that fraction is at least
``visible_alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..settings import SyntheticSettings
from .motion import Agent
from .scene import Scene, clip_region, paste_premultiplied

#: a primitive: (shape, points (k, 2) in pixels, size in pixels (line thickness / disc radius), RGB)
Primitive = tuple[str, np.ndarray, float, tuple[float, float, float]]


@dataclass(frozen=True)
class Pose:
    """Where and how an agent is drawn at one instant: foot point (pixels), pixels per metre,
    facing (+1 right / -1 left), sideways fraction of its motion (0 = head-on, 1 = sideways), phase."""

    col: float
    row: float
    ppm: float
    facing: float
    sideways: float
    phase: float


def _person(pose: Pose, agent: Agent, stride: float, lean: float) -> list[Primitive]:
    """A walking (or running) person: legs, torso, arms, head."""
    h = agent.height_m * pose.ppm
    c = agent.colours
    swing = stride * np.sin(pose.phase)
    side = pose.sideways * pose.facing
    foot = np.array([pose.col, pose.row])
    hip = foot + [lean * 0.3 * h * pose.facing, -0.5 * h]
    neck = foot + [lean * h * pose.facing, -0.8 * h]
    head = neck + [0.02 * h * pose.facing, -0.1 * h]
    prims: list[Primitive] = []
    for sign in (1.0, -1.0):
        angle = sign * swing
        lift = 0.05 * h * max(0.0, sign * np.sin(pose.phase)) * (1 - pose.sideways)
        toe = hip + [0.5 * h * np.sin(angle) * side, 0.5 * h * np.cos(angle) - lift]
        prims.append(("line", np.array([hip, toe]), 0.075 * h, c["trousers"]))
    prims.append(("line", np.array([hip + [0, -0.02 * h], neck]), 0.17 * h, c["shirt"]))
    sleeve = tuple(0.8 * v for v in c["shirt"])
    for sign in (1.0, -1.0):
        angle = -0.8 * sign * swing
        shoulder = neck + [0, 0.03 * h]
        hand = shoulder + [0.33 * h * np.sin(angle) * side, 0.33 * h * np.cos(angle)]
        prims.append(("line", np.array([shoulder, hand]), 0.055 * h, sleeve))
    prims.append(("disc", head[None, :], 0.075 * h, c["skin"]))
    return prims


def _cyclist(pose: Pose, agent: Agent) -> list[Primitive]:
    """A rider on a bicycle: two wheels, frame, pedalling legs, leaning torso, head."""
    m, f = pose.ppm, pose.facing
    c = agent.colours
    k = 0.25 + 0.75 * pose.sideways  # foreshortening of the bike's length

    def at(x: float, y: float) -> np.ndarray:
        return np.array([pose.col + x * k * f * m, pose.row + y * m])

    rear, front, crank = at(-0.52, -0.34), at(0.52, -0.34), at(0.0, -0.32)
    seat, bar = at(-0.12, -0.95), at(0.42, -1.05)
    shoulder, head = at(0.2, -1.42), at(0.27, -1.62)
    pedal = [crank + 0.17 * m * np.array([np.cos(pose.phase + d) * k * f, np.sin(pose.phase + d)]) for d in (0, np.pi)]
    prims: list[Primitive] = [("ring", w[None, :], 0.34 * m, c["frame"]) for w in (rear, front)]
    prims += [("line", np.array(seg), 0.06 * m, c["frame"]) for seg in ((rear, crank), (crank, seat), (seat, bar), (bar, front), (rear, seat))]
    prims += [("line", np.array([seat, p]), 0.13 * m, c["trousers"]) for p in pedal]
    prims.append(("line", np.array([seat, shoulder]), 0.28 * m, c["shirt"]))
    prims.append(("line", np.array([shoulder, bar]), 0.09 * m, c["shirt"]))
    prims.append(("disc", head[None, :], 0.13 * m, c["skin"]))
    return prims


def _cart(pose: Pose, agent: Agent) -> list[Primitive]:
    """A small wheeled cart: box body with a darker band, wheels, a handle bar."""
    m, f = pose.ppm, pose.facing
    k = 0.35 + 0.65 * pose.sideways
    body = agent.colours["body"]

    def at(x: float, y: float) -> np.ndarray:
        return np.array([pose.col + x * k * f * m, pose.row + y * m])

    bounce = 0.02 * np.sin(2 * pose.phase)
    prims: list[Primitive] = [
        ("rect", np.array([at(-0.8, -0.95 + bounce), at(0.8, -0.3 + bounce)]), 0.0, body),
        ("rect", np.array([at(-0.8, -0.62 + bounce), at(0.8, -0.52 + bounce)]), 0.0, tuple(0.55 * v for v in body)),
        ("line", np.array([at(-0.8, -0.95 + bounce), at(-1.0, -1.15 + bounce)]), 0.06 * m, agent.colours["frame"]),
    ]
    prims += [("disc", at(x, -0.17)[None, :], 0.17 * m, (30.0, 30.0, 30.0)) for x in (-0.55, 0.55)]
    return prims


def figure(pose: Pose, agent: Agent) -> list[Primitive]:
    """The primitives of ``agent`` in ``pose`` (image pixels)."""
    if agent.kind == "cyclist":
        return _cyclist(pose, agent)
    if agent.kind == "cart":
        return _cart(pose, agent)
    if agent.kind == "runner":
        return _person(pose, agent, stride=0.75, lean=0.08)
    return _person(pose, agent, stride=0.42, lean=0.0)


#: extent of each kind around its foot point in metres: (half width, height above, depth below)
_EXTENT_M = {"pedestrian": (0.55, 1.05, 0.1), "erratic": (0.55, 1.05, 0.1), "runner": (0.75, 1.05, 0.1),
             "cyclist": (0.95, 1.85, 0.1), "cart": (1.15, 1.25, 0.1)}


def _bounds(pose: Pose, agent: Agent) -> tuple[float, float, float, float]:
    """A box (left, top, right, bottom) in pixels that contains the agent's figure in ``pose``."""
    half, above, below = _EXTENT_M[agent.kind]
    scale = pose.ppm * (agent.height_m if agent.kind in ("pedestrian", "erratic", "runner") else 1.0)
    return (pose.col - half * scale, pose.row - above * scale, pose.col + half * scale, pose.row + below * scale)


def _draw(canvas: np.ndarray, prim: Primitive, left: int, top: int, s: int) -> None:
    """Draw one primitive in RGBA (alpha 255) on a canvas supersampled by ``s`` with origin (left, top)."""
    shape, pts, size, rgb = prim
    colour = (*rgb, 255.0)
    p = [(round((x - left) * s), round((y - top) * s)) for x, y in pts.tolist()]
    width = max(1, round(size * s))
    if shape == "line":
        cv2.line(canvas, p[0], p[1], colour, width)
    elif shape == "disc":
        cv2.circle(canvas, p[0], width, colour, -1)
    elif shape == "ring":
        cv2.circle(canvas, p[0], width, colour, max(1, round(0.18 * size * s)))
    else:
        cv2.rectangle(canvas, p[0], p[1], colour, -1)


def _pose(agent: Agent, scene: Scene, time: float) -> Pose:
    """The agent's pose at a fractional frame time."""
    cam = scene.camera
    x, z, phase, vx, vz = agent.state(time)
    speed = float(np.hypot(vx, vz))
    col = cam.width / 2 + cam.focal * x / z
    row = cam.horizon + cam.focal * cam.camera_height / z
    sideways = abs(vx) / speed if speed > 0 else 1.0
    return Pose(col, row, cam.focal / z, 1.0 if vx >= 0 else -1.0, sideways, phase)


@dataclass
class Layer:
    """One agent drawn at one frame: premultiplied colour float32 (h, w, 3), alpha float32 (h, w),
    top-left pixel (top, left), depth = foot row, and its silhouette pixel count (alpha >= threshold,
    in or out of the frame)."""

    colour: np.ndarray
    alpha: np.ndarray
    top: int
    left: int
    depth: float
    silhouette: int


def draw_agent(agent: Agent, scene: Scene, t: int, synthetic: SyntheticSettings) -> Layer | None:
    """Render ``agent`` at frame ``t`` with motion blur (``synthetic.exposure``, ``supersample``, ``visible_alpha``);
    None if absent or wholly outside the frame."""
    if not agent.present(t):
        return None
    s, exposure = synthetic.supersample, synthetic.exposure
    centre = _pose(agent, scene, float(t))
    probe = [_pose(agent, scene, t + d) for d in (-exposure / 2, exposure / 2)]
    travel = max(np.hypot(p.col - centre.col, p.row - centre.row) for p in probe) * 2
    n_samples = 1 if exposure == 0 else int(min(8, 1 + np.ceil(travel)))
    times = [float(t)] if n_samples == 1 else list(t + np.linspace(-exposure / 2, exposure / 2, n_samples))
    poses = [_pose(agent, scene, u) for u in times]
    bounds = np.array([_bounds(p, agent) for p in poses])
    left, top = int(np.floor(bounds[:, 0].min())) - 1, int(np.floor(bounds[:, 1].min())) - 1
    w, h = int(np.ceil(bounds[:, 2].max())) + 2 - left, int(np.ceil(bounds[:, 3].max())) + 2 - top
    if clip_region((scene.camera.height, scene.camera.width), top, left, h, w) is None:
        return None
    acc = np.zeros((h * s, w * s, 4), np.float32)
    canvas = np.empty((h * s, w * s, 4), np.uint8)
    for pose in poses:
        canvas.fill(0)
        for prim in figure(pose, agent):
            _draw(canvas, prim, left, top, s)
        acc += canvas
    rgba = cv2.resize(acc, (w, h), interpolation=cv2.INTER_AREA) / len(poses)
    alpha = rgba[:, :, 3] / 255.0
    # the canvas is black where nothing is drawn, so its area mean is already premultiplied
    return Layer(rgba[:, :, :3], alpha, top, left, centre.row, int((alpha >= synthetic.visible_alpha).sum()))


@dataclass
class Visibility:
    """Per-agent visibility after compositing: visible weight float32 (h, w) over the agent's layer
    patch at (top, left), and its silhouette pixel count."""

    weight: np.ndarray
    top: int
    left: int
    silhouette: int


def compose(scene: Scene, layers: dict[int, Layer]) -> tuple[np.ndarray, dict[int, Visibility]]:
    """Paint ``layers`` (agent index -> Layer) and the scene's occluders far to near over the background.

    Returns the frame float32 (H, W, 3) in [0, 255] (before sensor noise) and each agent's Visibility.
    """
    frame = scene.background.copy()
    items = [(sp.depth, 0, i) for i, sp in enumerate(scene.sprites)]
    items += [(layer.depth, 1, key) for key, layer in layers.items()]
    painted: dict[int, Visibility] = {}
    for _, is_agent, key in sorted(items, key=lambda it: (it[0], it[1], it[2])):
        if is_agent:
            layer = layers[key]
            colour, alpha, top, left = layer.colour, layer.alpha, layer.top, layer.left
        else:
            sprite = scene.sprites[key]
            colour, alpha, top, left = sprite.colour, sprite.alpha, sprite.top, sprite.left
        for vis in painted.values():
            _cover(vis, alpha, top, left)
        paste_premultiplied(frame, colour, alpha, top, left)
        if is_agent:
            painted[key] = Visibility(alpha.copy(), top, left, layer.silhouette)
    return frame, painted


def _cover(vis: Visibility, alpha: np.ndarray, top: int, left: int) -> None:
    """Reduce ``vis``'s weights where a patch ``alpha`` at (top, left) is painted over them."""
    region = clip_region(vis.weight.shape, top - vis.top, left - vis.left, *alpha.shape)
    if region is not None:
        vr, vc, ar, ac = region
        vis.weight[vr, vc] *= 1 - alpha[ar, ac]
