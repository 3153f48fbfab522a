"""Procedural indoor room layouts: an object catalogue and non-overlapping placement.

The room occupies ``[0, W] x [0, L] x [0, H]`` in the fixed (world) frame, z up.
Every object is built in a local frame (origin at the centre of its footprint on
its base, front facing local +y) from box / cylinder / sphere parts, then placed
with a position and a yaw about z. Its ground-truth box is the tight box of its
parts in that local frame, rotated by the same yaw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from geode_ros.scene import boxgeom
from geode_ros.scene.types import Box3D

RGB = tuple[float, float, float]


@dataclass
class Part:
    """A primitive in object-local coordinates; cylinders/spheres use size = diameters, height."""

    kind: str  # 'box' | 'cylinder' | 'sphere'
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    color: RGB


@dataclass
class SceneObject:
    """One placed object instance."""

    id: int
    label: str
    parts: list[Part]
    position: np.ndarray  # [3] footprint centre at the object's base, world frame
    yaw: float
    support: int | None = None  # id of the object it stands on

    def local_bounds(self) -> np.ndarray:
        """[[xmin, ymin, zmin], [xmax, ymax, zmax]] of the parts, local frame."""
        lo = np.min([np.subtract(p.center, np.divide(p.size, 2)) for p in self.parts], axis=0)
        hi = np.max([np.add(p.center, np.divide(p.size, 2)) for p in self.parts], axis=0)
        return np.stack([lo, hi])

    def box(self) -> Box3D:
        lo, hi = self.local_bounds()
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        mid = (lo + hi) / 2.0
        offset = np.array([c * mid[0] - s * mid[1], s * mid[0] + c * mid[1], mid[2]])
        return Box3D(self.label, self.position + offset, hi - lo, yaw=float(self.yaw))


@dataclass
class Room:
    """Room size (metres) and its objects."""

    size: np.ndarray  # [W, L, H]
    objects: list[SceneObject] = field(default_factory=list)


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _legs(w: float, d: float, h: float, t: float, color: RGB) -> list[Part]:
    return [Part('box', (sx * (w / 2 - t / 2), sy * (d / 2 - t / 2), h / 2), (t, t, h), color)
            for sx in (-1, 1) for sy in (-1, 1)]


# Each builder returns the parts of one instance. Colours are distinct per class.
def _table(rng):
    w, d, h = _u(rng, 1.0, 1.6), _u(rng, 0.7, 0.9), _u(rng, 0.72, 0.78)
    col = (0.45, 0.28, 0.14)
    return [Part('box', (0, 0, h - 0.02), (w, d, 0.04), col)] + _legs(w, d, h - 0.04, 0.05, col)


def _chair(rng):
    s, h = _u(rng, 0.42, 0.5), _u(rng, 0.43, 0.47)
    col = (0.80, 0.12, 0.12)
    back = Part('box', (0, -s / 2 + 0.025, h + 0.22), (s, 0.05, 0.44), col)
    return [Part('box', (0, 0, h - 0.02), (s, s, 0.04), col), back] + _legs(s, s, h - 0.04,
                                                                              0.04, col)


def _sofa(rng):
    w, d = _u(rng, 1.6, 2.2), _u(rng, 0.8, 0.95)
    col = (0.22, 0.33, 0.62)
    return [Part('box', (0, 0.08, 0.22), (w - 0.3, d - 0.16, 0.44), col),
            Part('box', (0, -d / 2 + 0.1, 0.42), (w, 0.2, 0.84), col),
            Part('box', (-w / 2 + 0.075, 0.08, 0.3), (0.15, d - 0.16, 0.6), col),
            Part('box', (w / 2 - 0.075, 0.08, 0.3), (0.15, d - 0.16, 0.6), col)]


def _bed(rng):
    w, ln = _u(rng, 1.4, 1.8), _u(rng, 1.95, 2.1)
    frame, mattress = (0.55, 0.45, 0.70), (0.92, 0.85, 0.95)
    return [Part('box', (0, 0.05, 0.15), (w, ln - 0.1, 0.3), frame),
            Part('box', (0, 0.05, 0.4), (w - 0.1, ln - 0.2, 0.2), mattress),
            Part('box', (0, -ln / 2 + 0.05, 0.5), (w, 0.1, 1.0), frame)]


def _shelf(rng):
    w, d, h = _u(rng, 0.8, 1.2), _u(rng, 0.3, 0.4), _u(rng, 1.6, 2.0)
    col = (0.85, 0.65, 0.20)
    parts = [Part('box', (sx * (w / 2 - 0.02), 0, h / 2), (0.04, d, h), col) for sx in (-1, 1)]
    parts.append(Part('box', (0, -d / 2 + 0.01, h / 2), (w, 0.02, h), col))
    n = int(rng.integers(4, 6))
    parts += [Part('box', (0, 0, z), (w - 0.08, d, 0.03), col)
              for z in np.linspace(0.05, h - 0.015, n)]
    return parts


def _cabinet(rng):
    w, d, h = _u(rng, 0.8, 1.2), _u(rng, 0.45, 0.55), _u(rng, 0.8, 1.0)
    col = (0.15, 0.58, 0.52)
    return [Part('box', (0, 0, h / 2), (w, d, h), col),
            Part('box', (-0.06, d / 2 + 0.01, h * 0.7), (0.03, 0.02, 0.12), (0.8, 0.8, 0.8)),
            Part('box', (0.06, d / 2 + 0.01, h * 0.7), (0.03, 0.02, 0.12), (0.8, 0.8, 0.8))]


def _lamp(rng):
    h, r = _u(rng, 1.4, 1.7), _u(rng, 0.16, 0.22)
    col = (1.0, 0.88, 0.35)
    return [Part('cylinder', (0, 0, 0.015), (0.3, 0.3, 0.03), (0.3, 0.3, 0.3)),
            Part('cylinder', (0, 0, h / 2), (0.03, 0.03, h), (0.3, 0.3, 0.3)),
            Part('cylinder', (0, 0, h + 0.12), (2 * r, 2 * r, 0.25), col)]


def _plant(rng):
    r, ph, fr = _u(rng, 0.13, 0.2), _u(rng, 0.25, 0.4), _u(rng, 0.25, 0.38)
    return [Part('cylinder', (0, 0, ph / 2), (2 * r, 2 * r, ph), (0.70, 0.35, 0.20)),
            Part('sphere', (0, 0, ph + fr * 0.9), (2 * fr, 2 * fr, 2 * fr), (0.15, 0.65, 0.15))]


def _trash_can(rng):
    r, h = _u(rng, 0.14, 0.2), _u(rng, 0.4, 0.6)
    return [Part('cylinder', (0, 0, h / 2), (2 * r, 2 * r, h), (0.35, 0.35, 0.38))]


def _box(rng):
    s = (_u(rng, 0.3, 0.6), _u(rng, 0.3, 0.6), _u(rng, 0.25, 0.5))
    return [Part('box', (0, 0, s[2] / 2), s, (0.78, 0.62, 0.42))]


def _door(rng):
    w, h = _u(rng, 0.8, 0.92), _u(rng, 2.0, 2.1)
    return [Part('box', (0, 0, h / 2), (w, 0.05, h), (0.55, 0.27, 0.08)),
            Part('box', (w / 2 - 0.1, 0.04, 1.0), (0.1, 0.03, 0.03), (0.9, 0.8, 0.2))]


def _tv(rng):
    w = _u(rng, 0.8, 1.3)
    return [Part('box', (0, 0, w * 0.3), (w, 0.06, w * 0.6), (0.04, 0.04, 0.06))]


def _refrigerator(rng):
    w, h = _u(rng, 0.6, 0.8), _u(rng, 1.7, 1.9)
    return [Part('box', (0, 0, h / 2), (w, 0.65, h), (0.88, 0.9, 0.95)),
            Part('box', (w / 2 - 0.08, 0.34, h * 0.6), (0.03, 0.03, 0.5), (0.4, 0.4, 0.4))]


def _mug(rng):
    r, h = _u(rng, 0.035, 0.045), _u(rng, 0.09, 0.11)
    col = (0.92, 0.20, 0.62)
    return [Part('cylinder', (0, 0, h / 2), (2 * r, 2 * r, h), col),
            Part('box', (r + 0.015, 0, h / 2), (0.03, 0.012, h * 0.6), col)]


def _bottle(rng):
    r, h = _u(rng, 0.03, 0.04), _u(rng, 0.18, 0.24)
    col = (0.15, 0.80, 0.92)
    return [Part('cylinder', (0, 0, h / 2), (2 * r, 2 * r, h), col),
            Part('cylinder', (0, 0, h + 0.04), (0.03, 0.03, 0.08), col)]


def _monitor(rng):
    w = _u(rng, 0.45, 0.6)
    col = (0.18, 0.18, 0.30)
    return [Part('box', (0, 0, 0.01), (0.2, 0.16, 0.02), col),
            Part('box', (0, -0.03, 0.08), (0.04, 0.03, 0.14), col),
            Part('box', (0, 0, 0.15 + w * 0.3), (w, 0.03, w * 0.6), col)]


def _book(rng):
    t = _u(rng, 0.025, 0.05)
    return [Part('box', (0, 0, t / 2), (_u(rng, 0.14, 0.17), _u(rng, 0.2, 0.24), t),
                 (1.0, 0.50, 0.0))]


# label -> (builder, placement) with placement 'wall', 'free', 'mounted' or 'small'.
CATALOGUE: dict[str, tuple[Callable[[np.random.Generator], list[Part]], str]] = {
    'table': (_table, 'free'), 'chair': (_chair, 'free'), 'sofa': (_sofa, 'wall'),
    'bed': (_bed, 'wall'), 'shelf': (_shelf, 'wall'), 'cabinet': (_cabinet, 'wall'),
    'lamp': (_lamp, 'wall'), 'plant': (_plant, 'free'), 'trash can': (_trash_can, 'free'),
    'box': (_box, 'free'), 'door': (_door, 'wall'), 'tv': (_tv, 'mounted'),
    'refrigerator': (_refrigerator, 'wall'), 'mug': (_mug, 'small'),
    'bottle': (_bottle, 'small'), 'monitor': (_monitor, 'small'), 'book': (_book, 'small'),
}
CLASSES: tuple[str, ...] = tuple(CATALOGUE)
SUPPORTS = ('table', 'cabinet')
WALL_YAWS = (0.0, np.pi / 2, np.pi, -np.pi / 2)  # front facing into the room from walls 0..3
# Sampling weights for floor-standing classes (door and small objects handled apart).
FLOOR_WEIGHTS = {'table': 2.0, 'chair': 3.0, 'sofa': 1.0, 'bed': 0.6, 'shelf': 1.0,
                 'cabinet': 1.2, 'lamp': 1.0, 'plant': 1.2, 'trash can': 1.0, 'box': 1.2,
                 'tv': 0.8, 'refrigerator': 0.5}


def _fits(room_size: np.ndarray, box: Box3D, others: list[Box3D], gap: float) -> bool:
    """Inside the room and at least ``gap`` from every other box it shares heights with."""
    fp = boxgeom.footprint(box)
    W, L, _ = room_size
    if fp.min() < -1e-6 or fp[:, 0].max() > W + 1e-6 or fp[:, 1].max() > L + 1e-6:
        return False
    z0, z1 = boxgeom.z_range(box)
    lo, hi = fp.min(0) - gap, fp.max(0) + gap
    for other in others:
        o0, o1 = boxgeom.z_range(other)
        if z1 <= o0 or o1 <= z0:
            continue
        ofp = boxgeom.footprint(other)
        if np.any(ofp.max(0) < lo) or np.any(ofp.min(0) > hi):
            continue
        if boxgeom.polygon_distance(fp, ofp)[0] < gap:
            return False
    return True


def _wall_pose(rng, room: Room, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, float]:
    """Position and yaw with the object's back against a random wall."""
    W, L, _ = room.size
    wall = int(rng.integers(4))
    yaw = WALL_YAWS[wall]
    half_w, back = (hi[0] - lo[0]) / 2, -lo[1] + 0.005  # distance from origin to back face
    along = W if wall in (0, 2) else L
    t = _u(rng, half_w + 0.05, max(half_w + 0.05, along - half_w - 0.05))
    t -= (hi[0] + lo[0]) / 2  # centre the local x extent, not the origin, at t
    pos = {0: (t, back), 1: (W - back, t), 2: (W - t, L - back), 3: (back, L - t)}[wall]
    return np.array([pos[0], pos[1], 0.0]), yaw


def _try_place(rng, room, label, parts, mode, keepout, supports, margin) -> SceneObject | None:
    obj = SceneObject(len(room.objects), label, parts, np.zeros(3), 0.0)
    lo, hi = obj.local_bounds()
    W, L, _ = room.size
    others = [o.box() for o in room.objects] + keepout
    for _ in range(40):
        if mode in ('wall', 'mounted'):
            obj.position, obj.yaw = _wall_pose(rng, room, lo, hi)
            if mode == 'mounted':
                obj.position[2] = _u(rng, 1.0, 1.35)
        elif mode == 'free':
            obj.position = np.array([_u(rng, margin, W - margin), _u(rng, margin, L - margin), 0])
            obj.yaw = _u(rng, -np.pi, np.pi)
        else:  # small: on top of a table or cabinet
            if not supports:
                return None
            sup = supports[int(rng.integers(len(supports)))]
            sb = sup.box()
            sx, sy = (sb.size[:2] - np.max(hi[:2] - lo[:2]) - 0.04) / 2
            if min(sx, sy) <= 0:
                continue
            local = np.array([_u(rng, -sx, sx), _u(rng, -sy, sy)])
            c, s = np.cos(sb.yaw), np.sin(sb.yaw)
            xy = sb.center[:2] + [c * local[0] - s * local[1], s * local[0] + c * local[1]]
            obj.position = np.array([xy[0], xy[1], boxgeom.z_range(sb)[1]])
            obj.yaw, obj.support = _u(rng, -np.pi, np.pi), sup.id
        if _fits(room.size, obj.box(), others, gap=0.02 if mode == 'small' else 0.08):
            return obj
    return None


def generate_layout(rng: np.random.Generator) -> Room:
    """A random furnished room (3-8 m per side, 2.4-3 m high)."""
    room = Room(np.array([_u(rng, 3.0, 8.0), _u(rng, 3.0, 8.0), _u(rng, 2.4, 3.0)]))
    keepout: list[Box3D] = []
    for _ in range(int(rng.integers(1, 3))):
        parts = _door(rng)
        door = _try_place(rng, room, 'door', parts, 'wall', keepout, [], 0.0)
        if door is not None:
            room.objects.append(door)
            b = door.box()
            c, s = np.cos(b.yaw), np.sin(b.yaw)
            front = b.center + np.array([-s, c, 0.0]) * 0.5  # keep the doorway clear
            keepout.append(Box3D('doorway', front, np.array([b.size[0], 0.9, 2.0]), b.yaw))
    area = float(room.size[0] * room.size[1])
    labels = list(FLOOR_WEIGHTS)
    p = np.array([FLOOR_WEIGHTS[k] for k in labels])
    n_floor = int(np.clip(area / 1.6 + rng.integers(-1, 3), 6, 26))
    chosen = [str(k) for k in rng.choice(labels, size=n_floor, p=p / p.sum())]
    chosen.sort(key=lambda k: CATALOGUE[k][1] != 'wall')  # big wall pieces first
    for label in chosen:
        builder, mode = CATALOGUE[label]
        obj = _try_place(rng, room, label, builder(rng), mode, keepout, [], 0.35)
        if obj is not None:
            room.objects.append(obj)
    supports = [o for o in room.objects if o.label in SUPPORTS]
    for _ in range(len(supports) * int(rng.integers(1, 4))):
        label = str(rng.choice(['mug', 'bottle', 'monitor', 'book']))
        obj = _try_place(rng, room, label, CATALOGUE[label][0](rng), 'small', [], supports, 0)
        if obj is not None:
            room.objects.append(obj)
    return room
