"""RGB-D rendering of a procedural room with Open3D ray casting (vectorised, CPU).

Rays are built through pixel centres (u, v) with camera-frame directions
``((u - cx) / fx, (v - cy) / fy, 1)`` *unnormalised*: Open3D reports ``t_hit`` in
units of the direction's length, so ``t_hit`` is already the z-depth of the hit
(no cosine correction needed). Colour = per-part albedo x (ambient + directional +
headlight Lambert terms), with a checker pattern on the floor for texture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
import open3d as o3d

from geode_ros.data.scene_layout import Room
from geode_ros.scene.types import CameraIntrinsics

FLOOR, WALL, CEILING = -2, -3, -4  # instance ids of the room structure (objects are >= 0)
_STRUCTURE_COLORS = {FLOOR: (0.62, 0.55, 0.47), WALL: (0.86, 0.84, 0.78),
                     CEILING: (0.95, 0.95, 0.95)}
_LIGHT = np.array([0.3, 0.5, 0.81]) / np.linalg.norm([0.3, 0.5, 0.81])


@cache
def _unit_mesh(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Vertices [V, 3] of a unit primitive centred at the origin, and triangles [T, 3]."""
    if kind == 'box':
        m = o3d.geometry.TriangleMesh.create_box(1.0, 1.0, 1.0)
        m.translate((-0.5, -0.5, -0.5))
    elif kind == 'cylinder':
        m = o3d.geometry.TriangleMesh.create_cylinder(radius=0.5, height=1.0, resolution=20)
    elif kind == 'sphere':
        m = o3d.geometry.TriangleMesh.create_sphere(radius=0.5, resolution=12)
    else:
        raise ValueError(f'unknown primitive {kind!r}')
    return np.asarray(m.vertices).copy(), np.asarray(m.triangles).astype(np.uint32)


@dataclass
class RoomMesh:
    """A ray-casting scene plus per-geometry instance ids and albedo colours."""

    scene: o3d.t.geometry.RaycastingScene
    instance: np.ndarray  # [G] int: object id, or FLOOR / WALL / CEILING (< 0: not an object)
    albedo: np.ndarray  # [G, 3] float in 0..1
    # [G] (instance, part index) of each geometry (part -1: structure or added extras)
    part_owner: list[tuple[int, int]] = field(default_factory=list)


def _yaw_matrix(yaw: float) -> np.ndarray:
    cy, sy = np.cos(yaw), np.sin(yaw)
    return np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])


def build_room_mesh(room: Room, extras: list | None = None) -> RoomMesh:
    """Triangulate the room structure and every object part into one RaycastingScene.
    ``extras``: (Part, world position, yaw, instance) primitives added after the objects
    (``materials.clutter``); they change no object's ground truth."""
    scene = o3d.t.geometry.RaycastingScene()
    instance, albedo, owner = [], [], []

    def add(kind: str, center, size, rot: np.ndarray, offset: np.ndarray, inst: int, col,
            part: int = -1):
        verts, tris = _unit_mesh(kind)
        v = (verts * np.asarray(size) + np.asarray(center)) @ rot.T + offset
        gid = scene.add_triangles(o3d.core.Tensor(v.astype(np.float32)), o3d.core.Tensor(tris))
        assert gid == len(instance)
        instance.append(inst)
        albedo.append(col)
        owner.append((inst, part))

    W, L, H = room.size
    eye, zero = np.eye(3), np.zeros(3)
    t = 0.1
    add('box', (W / 2, L / 2, -t / 2), (W + 2 * t, L + 2 * t, t), eye, zero, FLOOR,
        _STRUCTURE_COLORS[FLOOR])
    add('box', (W / 2, L / 2, H + t / 2), (W + 2 * t, L + 2 * t, t), eye, zero, CEILING,
        _STRUCTURE_COLORS[CEILING])
    for c, s in (((-t / 2, L / 2), (t, L + 2 * t)), ((W + t / 2, L / 2), (t, L + 2 * t)),
                 ((W / 2, -t / 2), (W + 2 * t, t)), ((W / 2, L + t / 2), (W + 2 * t, t))):
        add('box', (c[0], c[1], H / 2), (s[0], s[1], H + 2 * t), eye, zero, WALL,
            _STRUCTURE_COLORS[WALL])
    for obj in room.objects:
        rot = _yaw_matrix(obj.yaw)
        for i, p in enumerate(obj.parts):
            add(p.kind, p.center, p.size, rot, obj.position, obj.id, p.color, i)
    for p, position, yaw, inst in extras or []:
        add(p.kind, p.center, p.size, _yaw_matrix(yaw), position, inst, p.color)
    return RoomMesh(scene, np.asarray(instance, dtype=np.int32), np.asarray(albedo), owner)


def look_pose(eye: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """Camera-to-world 4x4 of an optical frame at ``eye`` looking along yaw, pitched down."""
    fwd = np.array([np.cos(yaw) * np.cos(pitch), np.sin(yaw) * np.cos(pitch), -np.sin(pitch)])
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    T = np.eye(4)
    T[:3, :3] = np.stack([right, down, fwd], axis=1)
    T[:3, 3] = eye
    return T


def trajectory(rng: np.random.Generator, room_size: np.ndarray, n: int) -> list[np.ndarray]:
    """A walk around an ellipse inside the room, looking inward with a side-to-side sweep.

    The path keeps >= 0.9 m from the walls (where all tall furniture stands) and the
    camera at 1.35-1.6 m, above every free-standing object.
    """
    W, L, _ = room_size
    rx, ry = max(0.15, W / 2 - 1.0), max(0.15, L / 2 - 1.0)
    phi0, direction = rng.uniform(-np.pi, np.pi), rng.choice([-1.0, 1.0])
    sweep = rng.uniform(0.85, 1.0) * 2 * np.pi
    height, pitch = rng.uniform(1.35, 1.6), np.deg2rad(rng.uniform(14, 24))
    poses = []
    for s in np.linspace(0.0, 1.0, n):
        phi = phi0 + direction * sweep * s
        eye = np.array([W / 2 + rx * np.cos(phi), L / 2 + ry * np.sin(phi),
                        height + 0.03 * np.sin(5 * phi)])
        yaw = phi + np.pi + np.deg2rad(40.0) * np.sin(2 * np.pi * 2 * s)
        poses.append(look_pose(eye, yaw, pitch))
    return poses


def _cast(mesh: RoomMesh, K: CameraIntrinsics, T_world_cam: np.ndarray) -> dict[str, np.ndarray]:
    """Primary rays through every pixel centre: depth, geometry id, hit mask, normal, ray."""
    v, u = np.mgrid[0:K.height, 0:K.width].astype(np.float64)
    d_cam = np.stack([(u - K.cx) / K.fx, (v - K.cy) / K.fy, np.ones_like(u)], axis=-1)
    R, t = T_world_cam[:3, :3], T_world_cam[:3, 3]
    d_world = d_cam @ R.T  # [H, W, 3], camera z component 1 => t_hit is z-depth
    rays = np.concatenate([np.broadcast_to(t, d_world.shape), d_world], axis=-1)
    hit = mesh.scene.cast_rays(o3d.core.Tensor(rays.astype(np.float32)))
    depth = hit['t_hit'].numpy()
    gid = hit['geometry_ids'].numpy().astype(np.int64)
    valid = np.isfinite(depth) & (gid < len(mesh.instance))
    gid = np.where(valid, gid, 0)
    normal = hit['primitive_normals'].numpy().astype(np.float64)
    return {'depth': depth, 'gid': gid, 'valid': valid, 'normal': normal, 'ray': d_world,
            'origin': t}


def render(mesh: RoomMesh, K: CameraIntrinsics, T_world_cam: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render one view: rgb [H, W, 3] uint8, depth [H, W] float32 m (0 = no hit), instance ids."""
    c = _cast(mesh, K, T_world_cam)
    depth, gid, valid, normal, d_world, t = (c[k] for k in ('depth', 'gid', 'valid', 'normal',
                                                             'ray', 'origin'))
    inst = np.where(valid, mesh.instance[gid], -1).astype(np.int32)
    view = -d_world / np.linalg.norm(d_world, axis=-1, keepdims=True)
    shade = (0.35 + 0.4 * np.abs(normal @ _LIGHT)
             + 0.25 * np.abs(np.einsum('hwk,hwk->hw', normal, view)))
    color = mesh.albedo[gid] * shade[..., None]
    on_floor = valid & (inst == FLOOR)
    if on_floor.any():
        p = t + d_world[on_floor] * depth[on_floor, None]
        checker = (np.floor(p[:, 0] / 0.5) + np.floor(p[:, 1] / 0.5)) % 2
        color[on_floor] *= (0.85 + 0.15 * checker)[:, None]
    rgb = np.where(valid[..., None], np.clip(color * 255.0 + 0.5, 0, 255), 0).astype(np.uint8)
    depth = np.where(valid, depth, 0.0).astype(np.float32)
    return rgb, depth, inst


@dataclass
class Lights:
    """A room's lighting: ambient, an unshadowed directional fill (window light) and
    ceiling point lights with shadows and inverse-square falloff (uneven lighting)."""

    ambient: np.ndarray  # [3] linear radiance
    fill_dir: np.ndarray  # [3] unit vector towards the fill light
    fill: np.ndarray  # [3]
    points: np.ndarray  # [P, 3] positions
    power: np.ndarray  # [P, 3] radiance at 1 m


def sample_lights(rng: np.random.Generator, room_size: np.ndarray) -> Lights:
    """Random warm / cool lights for a room of ``room_size`` (W, L, H)."""
    W, L, H = (float(x) for x in room_size)

    def tint() -> np.ndarray:
        warm = rng.uniform(-1, 1)  # -1 cool .. +1 warm
        return np.array([1 + 0.12 * warm, 1.0, 1 - 0.15 * warm])

    elev, azim = rng.uniform(0.3, 1.1), rng.uniform(-np.pi, np.pi)
    n = int(rng.integers(1, 3))
    pts = np.stack([rng.uniform(0.2, 0.8, n) * W, rng.uniform(0.2, 0.8, n) * L,
                    np.full(n, H - 0.05)], 1)
    return Lights(rng.uniform(0.15, 0.3) * tint(),
                  np.array([np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim),
                            np.sin(elev)]),
                  rng.uniform(0.1, 0.35) * tint(), pts,
                  np.stack([rng.uniform(1.0, 2.5) * tint() for _ in range(n)]))


def _occluded(mesh: RoomMesh, origin: np.ndarray, to: np.ndarray) -> np.ndarray:
    """[N] True where the segment origin -> to (both [N, 3]) hits geometry on its way."""
    d = to - origin
    rays = np.concatenate([origin + d * 1e-3, d], 1).astype(np.float32)
    t = mesh.scene.cast_rays(o3d.core.Tensor(rays))['t_hit'].numpy()
    return t < 0.995


def render_lit(mesh: RoomMesh, look, lights: Lights, K: CameraIntrinsics,
               T_world_cam: np.ndarray) -> dict[str, np.ndarray]:
    """Physically plausible view for a sensor model (``sensing``): linear ``radiance``
    [H, W, 3] (textures from ``look``, shadows, falloff, specular highlights), exact
    ``depth`` (0 = no hit), ``instance`` ids, ``cos_view`` (|normal . view|) and ``albedo``
    luminance; the sensor turns these into the images a camera would deliver."""
    from geode_ros.data.materials import texture

    c = _cast(mesh, K, T_world_cam)
    depth, gid, valid, normal, ray = c['depth'], c['gid'], c['valid'], c['normal'], c['ray']
    h, w = depth.shape
    sel = valid.reshape(-1)
    g = gid.reshape(-1)[sel]
    p = c['origin'] + ray.reshape(-1, 3)[sel] * depth.reshape(-1)[sel, None]
    view = -ray.reshape(-1, 3)[sel]
    view /= np.linalg.norm(view, axis=1, keepdims=True)
    n = normal.reshape(-1, 3)[sel]
    n = np.where((np.einsum('nk,nk->n', n, view) < 0)[:, None], -n, n)  # face the camera
    mix = texture(p, g, look)[:, None]
    base = look.albedo[g] * (1 - mix) + look.albedo2[g] * mix
    light = lights.ambient + lights.fill * np.clip(n @ lights.fill_dir, 0, None)[:, None]
    spec = np.zeros((len(p), 3))
    for pos, power in zip(lights.points, lights.power):
        to = pos - p
        dist2 = np.einsum('nk,nk->n', to, to)
        ldir = to / np.sqrt(dist2)[:, None]
        lit = ~_occluded(mesh, p + n * 0.01, np.broadcast_to(pos, p.shape))
        fall = lit / (dist2 + 0.3)
        light += power * (np.clip(np.einsum('nk,nk->n', n, ldir), 0, None) * fall)[:, None]
        half = ldir + view
        half /= np.linalg.norm(half, axis=1, keepdims=True)
        spec += power * (look.gloss[g] * np.clip(np.einsum('nk,nk->n', n, half), 0, None) ** 32
                         * fall)[:, None]
    radiance = np.zeros((h * w, 3))
    radiance[sel] = base * light + spec
    cos_view = np.zeros(h * w)
    cos_view[sel] = np.abs(np.einsum('nk,nk->n', n, view))
    lum = np.zeros(h * w)
    lum[sel] = base @ np.array([0.3, 0.59, 0.11])
    return {'radiance': radiance.reshape(h, w, 3),
            'depth': np.where(valid, depth, 0.0).astype(np.float32),
            'instance': np.where(valid, mesh.instance[gid], -1).astype(np.int32),
            'cos_view': cos_view.reshape(h, w), 'albedo': lum.reshape(h, w)}
