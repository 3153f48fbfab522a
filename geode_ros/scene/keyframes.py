"""Bounded scene memory: a keyframe ring buffer and a voxel-fused, capped point cloud."""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.scene.depth import voxel_group
from geode_ros.scene.types import Keyframe, RGBDFrame

# Fused-cloud voxel keys pack (ix, iy, iz) into 21 bits each around a fixed origin,
# so keys stay comparable across frames: +-2^20 voxels (52 km at 5 cm) per axis.
_BITS = 21
_HALF = 1 << (_BITS - 1)
_MASK = (1 << _BITS) - 1


def motion_between(T_a: np.ndarray, T_b: np.ndarray) -> tuple[float, float]:
    """(translation m, rotation deg) between two camera poses."""
    dt = float(np.linalg.norm(T_a[:3, 3] - T_b[:3, 3]))
    R = T_a[:3, :3].T @ T_b[:3, :3]
    cos = np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0)
    return dt, float(np.degrees(np.arccos(cos)))


class KeyframeBuffer:
    """Keyframes chosen by motion thresholds, kept in a fixed-size ring (oldest dropped).

    Features come from ``encode`` once per keyframe and are cached on the Keyframe;
    ``set_encoder`` drops them (bumping ``generation``) so they are recomputed lazily.
    """

    def __init__(self, max_keyframes: int, translation_m: float, rotation_deg: float,
                 encode: Callable[[RGBDFrame], Any] | None = None) -> None:
        if max_keyframes < 1:
            raise GeodeError(f'max_keyframes must be >= 1, got {max_keyframes}')
        self._ring: collections.deque[Keyframe] = collections.deque(maxlen=int(max_keyframes))
        self.translation_m = float(translation_m)
        self.rotation_deg = float(rotation_deg)
        self.encode = encode
        self.generation = 0
        self._next_index = 0

    def __len__(self) -> int:
        return len(self._ring)

    @property
    def capacity(self) -> int:
        return int(self._ring.maxlen or 0)

    def should_insert(self, T_world_cam: np.ndarray) -> bool:
        """True for the first frame or once motion since the last keyframe passes a threshold."""
        if not self._ring:
            return True
        dt, dr = motion_between(self._ring[-1].frame.T_world_cam, T_world_cam)
        return dt >= self.translation_m or dr >= self.rotation_deg

    def add(self, frame: RGBDFrame, features: Any = None, generation: int | None = None,
            encode_now: bool = True) -> Keyframe:
        """Insert unconditionally; ``features`` from an older encoder generation are dropped."""
        if generation is not None and generation != self.generation:
            features = None
        if features is None and encode_now and self.encode is not None:
            features = self.encode(frame)
        kf = Keyframe(frame=frame, index=self._next_index, features=features)
        self._next_index += 1
        self._ring.append(kf)
        return kf

    def maybe_add(self, frame: RGBDFrame) -> Keyframe | None:
        """Insert ``frame`` if it moved enough; encode it now (simple, single-thread use)."""
        return self.add(frame) if self.should_insert(frame.T_world_cam) else None

    def keyframes(self) -> list[Keyframe]:
        """The keyframe objects, oldest first (a new list; the objects are shared)."""
        return list(self._ring)

    def set_encoder(self, encode: Callable[[RGBDFrame], Any] | None) -> None:
        """Switch encoder: cached features become stale and are dropped."""
        self.encode = encode
        self.generation += 1
        for kf in self._ring:
            kf.features = None

    def nbytes(self) -> int:
        return sum(kf.frame.rgb.nbytes + kf.frame.depth.nbytes for kf in self._ring)

    def clear(self) -> None:
        self._ring.clear()


class FusedCloud:
    """Voxel-averaged cloud in the fixed frame with a hard cap on voxels.

    Each voxel keeps running sums, so its point is the exact mean of everything seen
    in it. Beyond ``max_points`` voxels the least recently observed ones are dropped
    (not re-voxelised coarser), pruning down to 90% of the cap so it happens rarely:
    the area the robot sees now stays at full resolution, and memory is bounded by
    ``max_points`` x 64 bytes.
    """

    def __init__(self, voxel: float, max_points: int) -> None:
        if not voxel > 0 or max_points < 1:
            raise GeodeError(f'bad fused-cloud settings voxel={voxel}, max_points={max_points}')
        self.voxel = float(voxel)
        self.max_points = int(max_points)
        self.clear()

    def clear(self) -> None:
        self._keys = np.zeros(0, np.int64)  # sorted
        self._sum = np.zeros((0, 3), np.float64)
        self._csum = np.zeros((0, 3), np.float32)
        self._count = np.zeros(0, np.float32)
        self._seen = np.zeros(0, np.int64)
        self._tick = 0

    def __len__(self) -> int:
        return int(self._keys.size)

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self._keys, self._sum, self._csum, self._count, self._seen))

    def _key(self, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = np.floor(xyz * (1.0 / self.voxel)).astype(np.int64) + _HALF
        ok = np.all((q >= 0) & (q <= _MASK), axis=1)
        q = q[ok]
        return (q[:, 0] << (2 * _BITS)) | (q[:, 1] << _BITS) | q[:, 2], ok

    def add(self, xyz: np.ndarray, rgb: np.ndarray | None) -> None:
        """Fuse [N, 3] points (fixed frame) with optional [N, 3] uint8 colours."""
        if xyz.shape[0] == 0:
            return
        self._tick += 1
        if rgb is None:
            rgb = np.full(xyz.shape, 128, np.uint8)
        keys, ok = self._key(xyz)
        xyz, rgb = xyz[ok], rgb[ok]
        if keys.size == 0:
            return
        order, starts, ukeys = voxel_group(keys)  # group the frame's points first
        cnt = np.diff(np.append(starts, keys.size)).astype(np.float32)
        psum = np.add.reduceat(xyz[order], starts, axis=0, dtype=np.float64)
        csum = np.add.reduceat(rgb[order], starts, axis=0, dtype=np.float64).astype(np.float32)
        pos = np.searchsorted(self._keys, ukeys)
        hit = pos < self._keys.size
        hit[hit] = self._keys[pos[hit]] == ukeys[hit]
        h = pos[hit]
        self._sum[h] += psum[hit]
        self._csum[h] += csum[hit]
        self._count[h] += cnt[hit]
        self._seen[h] = self._tick
        miss = ~hit
        at = pos[miss]
        self._keys = np.insert(self._keys, at, ukeys[miss])
        self._sum = np.insert(self._sum, at, psum[miss], axis=0)
        self._csum = np.insert(self._csum, at, csum[miss], axis=0)
        self._count = np.insert(self._count, at, cnt[miss])
        self._seen = np.insert(self._seen, at, self._tick)
        self._enforce_cap()

    def _enforce_cap(self) -> None:
        """Over the cap, prune to 90% of it, so the O(M) prune runs rarely, not every frame."""
        if self._keys.size <= self.max_points:
            return
        excess = self._keys.size - int(self.max_points * 0.9)
        drop = np.argpartition(self._seen, excess - 1)[:excess]
        keep = np.ones(self._keys.size, bool)
        keep[drop] = False
        self._keys, self._sum, self._csum = self._keys[keep], self._sum[keep], self._csum[keep]
        self._count, self._seen = self._count[keep], self._seen[keep]

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """(xyz [M, 3] float32, rgb [M, 3] uint8): per-voxel means (new arrays)."""
        c = self._count[:, None]
        xyz = (self._sum / c).astype(np.float32)
        rgb = np.clip(np.rint(self._csum / c), 0, 255).astype(np.uint8)
        return xyz, rgb
