"""Surface appearance of a synthetic room as a real camera would meet it.

The clean renderer gives every class one flat colour, so colour alone names the class
and separates objects. Real rooms do not: a white cabinet stands against a white wall,
a chair has a fabric seat and metal legs, wood has grain and a carpet has speckle. This
module dresses a laid-out room (``scene_layout``) without touching its geometry or its
ground truth:

- every instance draws its materials from its class's palettes (several classes share
  colours), and different parts of one object get different materials (seat / legs,
  frame / mattress, pot / leaves, body / handle); ``CATALOGUE_SHARE`` of the objects keep
  their clean catalogue colours instead (classes do have typical colours), textured;
- every material has a procedural texture evaluated at the 3D hit point (fixed to the
  surface, so it is the same in every view): wood grain, fabric, tiles, speckle;
- walls, floor and ceiling get per-room materials;
- unlabelled clutter is added where it changes no ground truth: pictures on free wall
  spans, a rug on the floor, pillows on beds inside the bed's box.

Two texture families exist: ``train`` (value noise) and ``heldout`` (sine turbulence and
cellular noise), so an evaluation can use surfaces the model never saw in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geode_ros.data.scene_layout import Part, Room
from geode_ros.scene import boxgeom
from geode_ros.scene.types import Box3D

NONE, GRAIN, FABRIC, TILES, SPECKLE = 0, 1, 2, 3, 4
CLUTTER = -5  # instance id of unlabelled clutter (pictures, rugs); objects are >= 0
CATALOGUE_SHARE = 0.4  # objects that keep their catalogue colours (textured, lit, varied)
TEXTURE_FAMILIES = ('train', 'heldout')

_WOOD = [(0.55, 0.36, 0.2), (0.42, 0.26, 0.13), (0.68, 0.5, 0.32), (0.3, 0.19, 0.1),
         (0.78, 0.64, 0.45)]
_WHITE = [(0.9, 0.9, 0.88), (0.82, 0.82, 0.8), (0.93, 0.91, 0.85)]
_DARK = [(0.08, 0.08, 0.09), (0.18, 0.18, 0.2), (0.12, 0.1, 0.09)]
_GREY = [(0.5, 0.5, 0.52), (0.35, 0.36, 0.38), (0.62, 0.62, 0.6)]
_METAL = [(0.7, 0.7, 0.72), (0.55, 0.56, 0.58), (0.72, 0.6, 0.3), (0.15, 0.15, 0.15)]
_FABRIC = [(0.55, 0.12, 0.12), (0.2, 0.3, 0.55), (0.25, 0.45, 0.3), (0.6, 0.55, 0.45),
           (0.4, 0.4, 0.42), (0.75, 0.6, 0.2), (0.45, 0.3, 0.5), (0.15, 0.15, 0.17)]
_BRIGHT = [(0.85, 0.2, 0.15), (0.15, 0.4, 0.8), (0.95, 0.8, 0.2), (0.2, 0.65, 0.3),
           (0.9, 0.9, 0.88), (0.1, 0.1, 0.1), (0.9, 0.45, 0.1), (0.6, 0.25, 0.6)]
_GREEN = [(0.15, 0.45, 0.12), (0.25, 0.55, 0.2), (0.1, 0.35, 0.15), (0.35, 0.5, 0.15)]
_POT = [(0.7, 0.35, 0.2), (0.9, 0.9, 0.88), (0.3, 0.3, 0.32), (0.2, 0.3, 0.5)]
_CARDBOARD = [(0.72, 0.56, 0.36), (0.65, 0.5, 0.3), (0.85, 0.85, 0.82), (0.3, 0.45, 0.7)]

# Per class: (primary palette, primary patterns, secondary palette, secondary patterns,
# the role of each part index: 'p' primary, 's' secondary; the last role repeats).
_RECIPES: dict[str, tuple] = {
    'table': (_WOOD + _WHITE + _DARK, (GRAIN, NONE), _WOOD + _METAL, (GRAIN, NONE), 'ps'),
    'chair': (_FABRIC + _WOOD + _DARK, (FABRIC, GRAIN), _METAL + _WOOD, (NONE, GRAIN), 'pps'),
    'sofa': (_FABRIC, (FABRIC,), _FABRIC, (FABRIC,), 'sp'),
    'bed': (_WOOD + _WHITE + _GREY, (GRAIN, NONE), _WHITE + _FABRIC, (FABRIC,), 'psp'),
    'shelf': (_WOOD + _WHITE + _DARK, (GRAIN, NONE), _WOOD + _WHITE, (GRAIN,), 'ppsp'),
    'cabinet': (_WOOD + _WHITE + _GREY + [(0.15, 0.45, 0.45)], (GRAIN, NONE), _METAL,
                (NONE,), 'ps'),
    'lamp': (_METAL + _DARK, (NONE,), _WHITE + [(0.9, 0.85, 0.7), (0.7, 0.3, 0.2)],
             (FABRIC,), 'pps'),
    'plant': (_POT, (NONE, SPECKLE), _GREEN, (SPECKLE,), 'ps'),
    'trash can': (_GREY + _DARK + _WHITE + _METAL, (NONE, SPECKLE), _GREY, (NONE,), 'p'),
    'box': (_CARDBOARD, (FABRIC, NONE), _CARDBOARD, (NONE,), 'p'),
    'door': (_WOOD + _WHITE + _GREY, (GRAIN, NONE), _METAL, (NONE,), 'ps'),
    'tv': (_DARK, (NONE,), _DARK, (NONE,), 'p'),
    'refrigerator': (_WHITE + _METAL[:2] + _DARK[:1], (NONE,), _METAL, (NONE,), 'ps'),
    'mug': (_BRIGHT, (NONE, SPECKLE), _BRIGHT, (NONE,), 'p'),
    'bottle': (_GREEN + _BRIGHT, (NONE,), _BRIGHT, (NONE,), 'ps'),
    'monitor': (_DARK + _GREY[:1] + _WHITE[:1], (NONE,), _DARK, (NONE,), 'ssp'),
    'book': (_BRIGHT + _FABRIC, (NONE, FABRIC), _BRIGHT, (NONE,), 'p'),
}
_FLOORS = ((_WOOD, GRAIN), (_GREY + [(0.75, 0.7, 0.6)], TILES),
           (_FABRIC[3:5] + [(0.35, 0.35, 0.45)], SPECKLE))
_WALLS = _WHITE + [(0.86, 0.8, 0.68), (0.75, 0.82, 0.86), (0.8, 0.85, 0.75), (0.7, 0.7, 0.7)]


@dataclass
class Look:
    """Per-geometry material of a ``RoomMesh`` (index = Open3D geometry id)."""

    albedo: np.ndarray  # [G, 3] base colour, linear 0..1
    albedo2: np.ndarray  # [G, 3] second colour the texture mixes in
    pattern: np.ndarray  # [G] NONE / GRAIN / FABRIC / TILES / SPECKLE
    scale: np.ndarray  # [G] texture feature size, metres
    axis: np.ndarray  # [G, 3] grain direction (unit)
    gloss: np.ndarray  # [G] specular strength 0..1
    family: str = 'train'


@dataclass
class Extra:
    """A clutter or decoration primitive added to the mesh (not part of the layout)."""

    kind: str
    center: np.ndarray  # world frame
    size: tuple[float, float, float]
    yaw: float
    instance: int  # the owning object's id (decoration) or CLUTTER
    color: tuple[float, float, float]


def _pick(rng: np.random.Generator, options: list) -> np.ndarray:
    return np.asarray(options[int(rng.integers(len(options)))], dtype=np.float64)


def _vary(rng: np.random.Generator, colour: np.ndarray, amount: float = 0.08) -> np.ndarray:
    """A colour with a little per-instance brightness and tint variation."""
    c = colour * rng.uniform(1 - amount, 1 + amount) + rng.normal(0, amount / 3, 3)
    return np.clip(c, 0.02, 0.98)


def _material(rng, palette, patterns) -> tuple:
    base = _vary(rng, _pick(rng, palette))
    pattern = int(patterns[int(rng.integers(len(patterns)))])
    contrast = {NONE: 0.0, GRAIN: 0.3, FABRIC: 0.18, TILES: 0.25, SPECKLE: 0.35}[pattern]
    second = np.clip(base * (1 - contrast * rng.uniform(0.6, 1.2)), 0.01, 1)
    scale = {NONE: 1.0, GRAIN: 0.05, FABRIC: 0.015, TILES: 0.3, SPECKLE: 0.02}[pattern]
    axis = np.zeros(3)
    axis[int(rng.integers(3))] = 1.0
    return base, second, pattern, scale * rng.uniform(0.7, 1.4), axis, rng.uniform(0, 0.35)


def dress(room: Room, part_owner: list[tuple[int, int]], rng: np.random.Generator,
          family: str = 'train') -> Look:
    """Materials for every geometry; ``part_owner[g]`` = (instance id, part index) of
    geometry g, as ``render.build_room_mesh`` added them (structure ids are negative)."""
    from geode_ros.data.render import CEILING, FLOOR, WALL

    if family not in TEXTURE_FAMILIES:
        raise ValueError(f'texture family must be one of {TEXTURE_FAMILIES}, got {family!r}')
    floor_palette, floor_pattern = _FLOORS[int(rng.integers(len(_FLOORS)))]
    structure = {FLOOR: _material(rng, floor_palette, (floor_pattern,)),
                 WALL: _material(rng, _WALLS, (FABRIC, NONE)),
                 CEILING: _material(rng, _WHITE, (NONE,))}
    if structure[FLOOR][2] == TILES:
        structure[FLOOR] = (*structure[FLOOR][:3], rng.uniform(0.3, 0.6),
                            *structure[FLOOR][4:])
    per_object: dict[int, tuple] = {}
    own: dict[int, list] = {}  # objects that keep their catalogue colours, per part
    for obj in room.objects:
        p_pal, p_pat, s_pal, s_pat, _ = _RECIPES.get(obj.label, (_GREY, (NONE,)) * 2 + ('p',))
        primary = _material(rng, p_pal, p_pat)
        secondary = primary if rng.random() < 0.3 else _material(rng, s_pal, s_pat)
        per_object[obj.id] = (primary, secondary)
        if rng.random() < CATALOGUE_SHARE:
            own[obj.id] = [_material(rng, [p.color], p_pat) for p in obj.parts]
    labels = {o.id: o.label for o in room.objects}
    rows = []
    for inst, part in part_owner:
        if inst < 0:
            rows.append(structure.get(inst) or _material(rng, _BRIGHT + _WOOD, (NONE, FABRIC)))
            continue
        if inst in own and part >= 0:
            rows.append(own[inst][part])
            continue
        roles = _RECIPES.get(labels[inst], (0, 0, 0, 0, 'p'))[4]
        role = roles[min(part, len(roles) - 1)] if part >= 0 else 's'
        rows.append(per_object[inst][0 if role == 'p' else 1])
    cols = list(zip(*rows))
    return Look(np.asarray(cols[0]), np.asarray(cols[1]), np.asarray(cols[2], np.int64),
                np.asarray(cols[3]), np.asarray(cols[4]), np.asarray(cols[5]), family)


def clutter(room: Room, rng: np.random.Generator) -> list[Extra]:
    """Unlabelled pictures on free wall spans, one rug, pillows on beds (inside their box)."""
    W, L, H = (float(v) for v in room.size)
    boxes = [o.box() for o in room.objects]
    extras: list[Extra] = []
    for _ in range(int(rng.integers(1, 4))):  # pictures: 2 cm thick, hung 1.2-1.9 m
        w, h = rng.uniform(0.3, 0.9), rng.uniform(0.25, 0.7)
        wall = int(rng.integers(4))
        along = W if wall in (0, 2) else L
        t = rng.uniform(w / 2 + 0.1, max(w / 2 + 0.1, along - w / 2 - 0.1))
        z = rng.uniform(1.2, min(1.9, H - h / 2 - 0.15))
        centre = {0: (t, 0.01), 1: (W - 0.01, t), 2: (t, L - 0.01), 3: (0.01, t)}[wall]
        yaw = 0.0 if wall in (0, 2) else np.pi / 2
        c = np.array([centre[0], centre[1], z])
        probe = Box3D('picture', c, np.array([w + 0.2, 0.3, h + 0.2]), yaw)
        if any(boxgeom.box_iou_3d(probe, b) > 0 for b in boxes):
            continue
        extras.append(Extra('box', c, (w, 0.02, h), yaw, CLUTTER, tuple(_pick(rng, _BRIGHT))))
    if rng.random() < 0.7:  # a rug, 8 mm thick (under furniture: hidden inside it)
        rw, rl = rng.uniform(1.0, min(3.0, W - 0.5)), rng.uniform(0.8, min(2.5, L - 0.5))
        c = np.array([rng.uniform(rw / 2, W - rw / 2), rng.uniform(rl / 2, L - rl / 2), 0.004])
        extras.append(Extra('box', c, (rw, rl, 0.008), rng.uniform(-0.3, 0.3), CLUTTER,
                            tuple(_vary(rng, _pick(rng, _FABRIC)))))
    for obj in room.objects:
        if obj.label != 'bed':
            continue
        lo, hi = obj.local_bounds()
        for side in (-1, 1):  # two pillows by the headboard, on the mattress
            local = np.array([side * (hi[0] - lo[0]) / 4, lo[1] + 0.35, 0.55])
            cy, sy = np.cos(obj.yaw), np.sin(obj.yaw)
            world = obj.position + [cy * local[0] - sy * local[1],
                                    sy * local[0] + cy * local[1], local[2]]
            extras.append(Extra('box', world, ((hi[0] - lo[0]) / 2 - 0.1, 0.4, 0.1), obj.yaw,
                                obj.id, tuple(_pick(rng, _WHITE + _FABRIC[3:5]))))
    return extras


def extra_parts(extras: list[Extra]) -> list[tuple[Part, np.ndarray, float, int]]:
    """Extras as (part at the origin, world position, yaw, instance) for the mesh builder."""
    return [(Part(e.kind, (0.0, 0.0, 0.0), e.size, e.color), np.asarray(e.center, float),
             float(e.yaw), int(e.instance)) for e in extras]


# ----------------------------------------------------------------------------- textures
def _hash01(i: np.ndarray, seed: int) -> np.ndarray:
    """Deterministic pseudo-random 0..1 per integer lattice point [N, 3]."""
    h = (i[:, 0] * 73856093) ^ (i[:, 1] * 19349663) ^ (i[:, 2] * 83492791) ^ (seed * 2654435761)
    h = (h ^ (h >> 13)) * 1274126177
    return ((h ^ (h >> 16)) & 0xFFFFFF).astype(np.float64) / float(0xFFFFFF)


def value_noise(p: np.ndarray, seed: int = 0) -> np.ndarray:
    """Smooth 3D value noise in 0..1 at points [N, 3] (lattice spacing 1)."""
    i0 = np.floor(p).astype(np.int64)
    f = p - i0
    u = f * f * (3 - 2 * f)
    out = np.zeros(len(p))
    for corner in range(8):
        c = np.array([(corner >> k) & 1 for k in range(3)])
        w = np.prod(np.where(c, u, 1 - u), axis=1)
        out += w * _hash01(i0 + c, seed)
    return out


def _fbm(p: np.ndarray, octaves: int, seed: int) -> np.ndarray:
    return sum(value_noise(p * 2.0 ** k, seed + k) / 2.0 ** k for k in range(octaves)) / (
        2 - 2.0 ** (1 - octaves))


def _cells(p: np.ndarray, seed: int) -> np.ndarray:
    """Cellular (Worley) noise: distance to the nearest jittered lattice point, 0..~1."""
    i0 = np.floor(p).astype(np.int64)
    best = np.full(len(p), 9.0)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dz in (-1, 0, 1):
                cell = i0 + np.array([dx, dy, dz])
                jitter = np.stack([_hash01(cell, seed + k) for k in range(3)], 1)
                best = np.minimum(best, np.linalg.norm(cell + jitter - p, axis=1))
    return np.clip(best, 0, 1)


def texture(points: np.ndarray, gid: np.ndarray, look: Look) -> np.ndarray:
    """[N] mix weight of ``albedo2`` at world points on geometries ``gid`` (0 = albedo)."""
    t = np.zeros(len(points))
    pattern = look.pattern[gid]
    for kind in (GRAIN, FABRIC, TILES, SPECKLE):
        sel = np.flatnonzero(pattern == kind)
        if sel.size == 0:
            continue
        q = points[sel] / look.scale[gid[sel], None]
        heldout = look.family == 'heldout'
        if kind == GRAIN:  # rings along the grain axis, warped by noise
            along = np.einsum('nk,nk->n', points[sel], look.axis[gid[sel]])
            across = np.linalg.norm(points[sel], axis=1) - along
            warp = _fbm(q * 0.3, 2, 3) * (6 if heldout else 4)
            v = np.sin(across / look.scale[gid[sel]] * 2 + warp) * 0.5 + 0.5
        elif kind == TILES:  # square tiles with dark grout lines (diagonal ones: heldout)
            xy = points[sel, :2] / look.scale[gid[sel], None]
            if heldout:
                xy = np.stack([xy[:, 0] + xy[:, 1], xy[:, 0] - xy[:, 1]], 1) / np.sqrt(2)
            frac = np.abs((xy % 1.0) - 0.5)
            v = (frac.max(1) > 0.46).astype(float) + 0.3 * value_noise(q * 4, 5)
        elif heldout:
            v = (_cells(q, 7) if kind == SPECKLE
                 else 0.5 + 0.5 * np.sin(q[:, 0] + 3 * _fbm(q, 3, 9)))
        else:
            v = _fbm(q, 3, 11 if kind == FABRIC else 13)
            if kind == SPECKLE:
                v = (v > 0.55).astype(float) * 0.7 + 0.3 * v
        t[sel] = np.clip(v, 0, 1)
    return t
