"""Synthetic benchmark, part 1: one fixed camera over a ground plane, and its static scene.

Geometry: a pinhole camera with a horizontal optical axis looks at a flat ground from
``camera_height`` metres; a ground point (X lateral, Z depth, metres) appears at image column
``cx + f * X / Z`` and row ``horizon + f * camera_height / Z``. Image rows therefore order depth
(a lower foot row is nearer), and an upright object of height ``h`` metres standing at row ``y``
is ``h * (y - horizon) / camera_height`` pixels tall. The top band of the frame (rows above
``ground_top``) holds buildings and trees that hide whatever walks behind them; walkways are
straight paved strips on the ground that start and end outside the view; a few occluders
(lamp posts, trees, hedges, pillars) stand beside the walkways.

Everything is drawn at ``supersample`` times the frame size and area-averaged down, so edges are
anti-aliased and sprites carry fractional coverage (alpha).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..settings import SyntheticSettings

#: height of the reference person (metres) that ``person_height`` in the config refers to
PERSON_HEIGHT_M = 1.7


@dataclass(frozen=True)
class Camera:
    """Pinhole camera over a flat ground; see the module docstring for the projection."""

    height: int
    width: int
    focal: float
    horizon: float
    camera_height: float
    ground_top: float

    def project(self, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ground points (X, Z) in metres (any equal shapes) -> image (column, row) in pixels."""
        return self.width / 2 + self.focal * x / z, self.horizon + self.focal * self.camera_height / z

    def depth_of_row(self, row: float) -> float:
        """Ground depth Z (metres) seen at image ``row`` (row below the horizon)."""
        return self.focal * self.camera_height / (row - self.horizon)

    def pixels_per_metre(self, z: np.ndarray) -> np.ndarray:
        """Image scale (pixels per metre) of an upright object at depth ``z``."""
        return self.focal / z

    def lateral_extent(self, z: float) -> tuple[float, float]:
        """Ground X range (metres) visible at depth ``z``."""
        return -self.width / 2 * z / self.focal, self.width / 2 * z / self.focal


@dataclass(frozen=True)
class Walkway:
    """A straight paved strip from ``start`` to ``end`` (ground X, Z in metres), ``width`` metres wide."""

    start: np.ndarray
    end: np.ndarray
    width: float

    @property
    def length(self) -> float:
        """Centre-line length in metres."""
        return float(np.linalg.norm(self.end - self.start))

    @property
    def direction(self) -> np.ndarray:
        """Unit vector from start to end."""
        return (self.end - self.start) / self.length

    @property
    def normal(self) -> np.ndarray:
        """Unit vector across the walkway."""
        d = self.direction
        return np.array([-d[1], d[0]])


@dataclass(frozen=True)
class Sprite:
    """A static structure that hides what stands behind it.

    ``colour`` float32 (h, w, 3) premultiplied RGB in [0, 255], ``alpha`` float32 (h, w) in [0, 1],
    placed with its top-left pixel at (``top``, ``left``); ``depth`` is its foot row (larger = nearer).
    """

    colour: np.ndarray
    alpha: np.ndarray
    top: int
    left: int
    depth: float


@dataclass
class Scene:
    """One camera: geometry, walkways, background image (float32 (H, W, 3)) and occluding sprites."""

    camera: Camera
    walkways: list[Walkway]
    background: np.ndarray
    sprites: list[Sprite] = field(default_factory=list)


def make_camera(synthetic: SyntheticSettings, rng: np.random.Generator) -> Camera:
    """A camera whose reference person is ``person_height`` fractions of the frame tall at the top
    of the ground area and at the bottom row; the building band height is drawn from ``horizon_band``."""
    h, w = synthetic.height, synthetic.width
    far_frac, near_frac = synthetic.person_height
    ground_top = float(rng.uniform(*synthetic.horizon_band)) * h
    slope = (near_frac - far_frac) * h / (h - ground_top)  # person pixels per row below the horizon
    camera_height = PERSON_HEIGHT_M / slope
    horizon = ground_top - far_frac * h / slope
    fov = np.deg2rad(rng.uniform(50.0, 65.0))
    focal = w / (2 * np.tan(fov / 2))
    return Camera(h, w, float(focal), float(horizon), float(camera_height), float(ground_top))


def make_walkways(camera: Camera, count: int, rng: np.random.Generator) -> list[Walkway]:
    """``count`` walkways crossing the view: the first runs across it, the second into the depth,
    the rest either way. Each starts and ends outside the view (beyond the frame edges, below the
    bottom row or behind the building band)."""
    z_near = camera.depth_of_row(camera.height)
    z_far = camera.depth_of_row(camera.ground_top)
    walkways = []
    for i in range(count):
        across = i == 0 or (i > 1 and rng.random() < 0.5)
        width = float(rng.uniform(2.0, 3.5))
        if across:
            z0 = float(rng.uniform(z_near + 0.15 * (z_far - z_near), z_near + 0.75 * (z_far - z_near)))
            slope = float(np.tan(np.deg2rad(rng.uniform(-12.0, 12.0))))
            reach = camera.lateral_extent(z_far)[1] * 1.3 + 3.0
            start = np.array([-reach, z0 - slope * reach])
            end = np.array([reach, z0 + slope * reach])
        else:
            x_near = float(rng.uniform(*camera.lateral_extent(z_near))) * 0.6
            x_far = x_near + float(rng.uniform(-0.5, 0.5)) * (z_far - z_near)
            start = np.array([x_near, 0.75 * z_near])
            end = np.array([x_far, z_far * 1.25 + 2.0])
        if rng.random() < 0.5:
            start, end = end, start
        walkways.append(Walkway(start, end, width))
    return walkways


def _ground_texture(h: int, w: int, base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Float32 (h, w, 3): ``base`` colour plus smooth blotches and fine grain."""
    tex = np.zeros((h, w), np.float32)
    for sigma, amp in ((0.7, 5.0), (3.0, 7.0), (9.0, 9.0)):
        noise = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigma)
        tex += amp * noise / max(float(noise.std()), 1e-6)
    tint = rng.uniform(0.8, 1.2, 3).astype(np.float32)
    return np.clip(base[None, None, :] + tex[:, :, None] * tint, 0, 255).astype(np.float32)


def _downsample(img: np.ndarray, s: int) -> np.ndarray:
    """Area-average a (h*s, w*s[, c]) array by ``s`` in both axes."""
    h, w = img.shape[0] // s, img.shape[1] // s
    return img.reshape(h, s, w, s, *img.shape[2:]).mean(axis=(1, 3))


def _walkway_polygon(camera: Camera, way: Walkway, s: int, offset: float = 0.0, half: float | None = None) -> np.ndarray:
    """Image polygon (supersampled int32 (4, 2)) of the strip between lateral offsets offset +- half."""
    half = way.width / 2 if half is None else half
    pts = []
    n = way.normal
    for a, b in ((offset - half, 0.0), (offset - half, 1.0), (offset + half, 1.0), (offset + half, 0.0)):
        p = way.start + b * (way.end - way.start) + a * n
        pts.append(camera.project(np.array(p[0]), np.array(p[1])))
    return np.round(np.array(pts, np.float64) * s).astype(np.int32)


def _draw_ground(camera: Camera, walkways: list[Walkway], rng: np.random.Generator, s: int) -> np.ndarray:
    """Float32 (H, W, 3) ground image: textured lawn/asphalt with paved walkways and their kerbs."""
    h, w = camera.height, camera.width
    palettes = np.array([[92, 128, 70], [118, 118, 112], [150, 136, 104], [84, 110, 84]], np.float32)
    ground = _ground_texture(h, w, palettes[rng.integers(len(palettes))] + rng.uniform(-10, 10, 3), rng)
    paving = np.array([172, 166, 154], np.float32) + rng.uniform(-25, 25, 3).astype(np.float32)
    for way in walkways:
        strip = np.zeros((h * s, w * s), np.uint8)
        cv2.fillPoly(strip, [_walkway_polygon(camera, way, s)], 255)
        alpha = _downsample(strip.astype(np.float32) / 255, s)[:, :, None]
        colour = _ground_texture(h, w, paving + rng.uniform(-8, 8, 3), rng) * 0.6 + paving * 0.4
        ground = ground * (1 - alpha) + colour * alpha
        kerb = np.zeros((h * s, w * s), np.uint8)
        for side in (-1.0, 1.0):
            cv2.fillPoly(kerb, [_walkway_polygon(camera, way, s, side * way.width / 2, 0.12)], 255)
        alpha = _downsample(kerb.astype(np.float32) / 255, s)[:, :, None]
        ground = ground * (1 - alpha) + (paving * 0.75) * alpha
    return ground


def _building_band(camera: Camera, rng: np.random.Generator, s: int) -> Sprite:
    """The opaque band above ``ground_top``: sky, buildings with windows and doors, trees."""
    h_band = int(np.ceil(camera.ground_top))
    w = camera.width
    hs, ws = h_band * s, w * s
    img = np.zeros((hs, ws, 3), np.uint8)
    sky = np.array([190, 205, 220]) + rng.uniform(-20, 20, 3)
    img[:] = np.clip(sky, 0, 255).astype(np.uint8)
    x = -int(rng.integers(0, 10)) * s
    while x < ws:
        bw = int(rng.uniform(0.2, 0.45) * w) * s
        top = int(rng.uniform(0.0, 0.45) * h_band * s)
        facade = np.clip(rng.uniform(90, 200, 3), 0, 255)
        cv2.rectangle(img, (x, top), (x + bw, hs), facade.tolist(), -1)
        win = max(2 * s, int(0.06 * h_band * s))
        glass = (facade * rng.uniform(0.35, 0.6)).tolist()
        for wy in range(top + win, hs - 2 * win, 2 * win):
            for wx in range(x + win, x + bw - win, 2 * win):
                cv2.rectangle(img, (wx, wy), (wx + win - 1, wy + win - 1), glass, -1)
        door_w = 2 * win
        dx = x + bw // 2 - door_w // 2
        cv2.rectangle(img, (dx, hs - 3 * win), (dx + door_w, hs), (facade * 0.4).tolist(), -1)
        x += bw + int(rng.integers(0, 2) * rng.uniform(0.05, 0.15) * w) * s
        if rng.random() < 0.5:
            cx = x - int(rng.uniform(0.0, 0.05) * w) * s
            r = int(rng.uniform(0.12, 0.22) * h_band) * s
            green = (np.array([60, 110, 55]) + rng.uniform(-20, 20, 3)).tolist()
            cv2.rectangle(img, (cx - r // 5, hs - 2 * r), (cx + r // 5, hs), (70, 55, 40), -1)
            cv2.circle(img, (cx, hs - 2 * r), r, green, -1)
    cv2.rectangle(img, (0, hs - max(1, s)), (ws, hs), (110, 105, 100), -1)
    colour = _downsample(img.astype(np.float32), s)
    alpha = np.ones(colour.shape[:2], np.float32)
    return Sprite(colour, alpha, 0, 0, camera.ground_top)


def _occluder(camera: Camera, walkways: list[Walkway], rng: np.random.Generator, s: int) -> Sprite | None:
    """A lamp post, tree, hedge or pillar standing beside a random walkway inside the view."""
    way = walkways[int(rng.integers(len(walkways)))]
    for _ in range(20):
        p = way.start + rng.uniform(0.2, 0.8) * (way.end - way.start)
        p = p + way.normal * rng.choice([-1, 1]) * (way.width / 2 + rng.uniform(0.3, 1.2))
        col, row = camera.project(np.array(p[0]), np.array(p[1]))
        if 4 <= col < camera.width - 4 and camera.ground_top + 4 <= row < camera.height - 2:
            break
    else:
        return None
    ppm = float(camera.pixels_per_metre(np.array(p[1])))
    kind = ("lamp", "tree", "hedge", "pillar")[int(rng.integers(4))]
    # parts: (shape, x0, y0, x1, y1 in metres relative to the foot point, upward negative; colour)
    if kind == "lamp":
        parts = [("rect", -0.08, -4.0, 0.08, 0.0, (60, 60, 66)), ("rect", -0.3, -4.2, 0.3, -3.9, (40, 40, 44))]
    elif kind == "tree":
        green = tuple(float(v) for v in np.array([55, 105, 50]) + rng.uniform(-15, 15, 3))
        parts = [("rect", -0.17, -2.4, 0.17, 0.0, (85, 62, 40)), ("ellipse", -1.3, -4.4, 1.3, -2.0, green)]
    elif kind == "hedge":
        green = tuple(float(v) for v in np.array([50, 95, 45]) + rng.uniform(-15, 15, 3))
        half = rng.uniform(0.8, 1.5)
        parts = [("rect", -half, -0.9, half, 0.0, green)]
    else:
        stone = tuple(float(v) for v in rng.uniform(120, 190, 3))
        parts = [("rect", -0.3, -2.6, 0.3, 0.0, stone)]
    x0 = min(q[1] for q in parts) * ppm + float(col)
    y0 = min(q[2] for q in parts) * ppm + float(row)
    x1 = max(q[3] for q in parts) * ppm + float(col)
    y1 = max(q[4] for q in parts) * ppm + float(row)
    left, top = int(np.floor(x0)) - 1, int(np.floor(y0)) - 1
    w, h = int(np.ceil(x1)) + 1 - left, int(np.ceil(y1)) + 1 - top
    img = np.zeros((h * s, w * s, 3), np.uint8)
    mask = np.zeros((h * s, w * s), np.uint8)
    for shape, a0, b0, a1, b1, colour in parts:
        p0 = (int(round(((a0 * ppm + col) - left) * s)), int(round(((b0 * ppm + row) - top) * s)))
        p1 = (int(round(((a1 * ppm + col) - left) * s)), int(round(((b1 * ppm + row) - top) * s)))
        for target, value in ((img, colour), (mask, 255)):
            if shape == "rect":
                cv2.rectangle(target, p0, p1, value, -1)
            else:
                centre = ((p0[0] + p1[0]) // 2, (p0[1] + p1[1]) // 2)
                cv2.ellipse(target, centre, (max(1, (p1[0] - p0[0]) // 2), max(1, (p1[1] - p0[1]) // 2)), 0, 0, 360, value, -1)
    shade = 1 + 0.15 * _downsample(rng.standard_normal((h * s, w * s)).astype(np.float32), s)
    colour = _downsample(img.astype(np.float32), s) * shade[:, :, None]
    alpha = _downsample(mask.astype(np.float32) / 255, s)
    return Sprite(colour.astype(np.float32), alpha.astype(np.float32), top, left, float(row))


def make_scene(synthetic: SyntheticSettings, rng: np.random.Generator) -> Scene:
    """A complete static scene (camera, walkways, background, sprites) of the ``synthetic`` settings drawn from ``rng``."""
    s = synthetic.supersample
    camera = make_camera(synthetic, rng)
    walkways = make_walkways(camera, int(rng.integers(synthetic.walkways[0], synthetic.walkways[1] + 1)), rng)
    background = _draw_ground(camera, walkways, rng, s)
    band = _building_band(camera, rng, s)
    sprites = [band]
    for _ in range(int(rng.integers(synthetic.occluders[0], synthetic.occluders[1] + 1))):
        sprite = _occluder(camera, walkways, rng, s)
        if sprite is not None:
            sprites.append(sprite)
    for sprite in sorted(sprites, key=lambda sp: sp.depth):
        paste_premultiplied(background, sprite.colour, sprite.alpha, sprite.top, sprite.left)
    return Scene(camera, walkways, background.astype(np.float32), sprites)


def clip_region(shape: tuple[int, int], top: int, left: int, h: int, w: int) -> tuple[slice, slice, slice, slice] | None:
    """Frame and patch slices of a (h, w) patch at (top, left) in a frame of ``shape``; None if outside."""
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + h, shape[0]), min(left + w, shape[1])
    if r0 >= r1 or c0 >= c1:
        return None
    return slice(r0, r1), slice(c0, c1), slice(r0 - top, r1 - top), slice(c0 - left, c1 - left)


def paste_premultiplied(frame: np.ndarray, colour: np.ndarray, alpha: np.ndarray, top: int, left: int) -> None:
    """Composite a premultiplied patch over ``frame`` (float (H, W, 3)) in place ("over" operator)."""
    region = clip_region(frame.shape[:2], top, left, *alpha.shape)
    if region is None:
        return
    fr, fc, pr, pc = region
    frame[fr, fc] = frame[fr, fc] * (1 - alpha[pr, pc, None]) + colour[pr, pc]
