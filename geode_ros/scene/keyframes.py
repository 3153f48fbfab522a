"""Bounded scene memory: a keyframe ring buffer and a voxel-fused, capped point cloud."""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.scene.depth import group_ids
from geode_ros.scene.types import Keyframe, RGBDFrame

# Fused-cloud voxel keys pack (ix, iy, iz) into 21 bits each around a fixed origin,
# so keys stay comparable across frames: +-2^20 voxels (52 km at 5 cm) per axis.
_BITS = 21
_HALF = 1 << (_BITS - 1)
_MASK = (1 << _BITS) - 1


def motion_between(T_a: np.ndarray, T_b: np.ndarray) -> tuple[float, float]:
    """(translation m, rotation deg) between two camera poses."""
    with np.errstate(over='ignore', invalid='ignore'):  # absurd poses: inf, a keyframe
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


def _merge(a_keys: np.ndarray, a_slots: np.ndarray, b_keys: np.ndarray,
           b_slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge two sorted (key, slot) runs in O(len a + len b): no re-sort."""
    at = np.searchsorted(a_keys, b_keys) + np.arange(b_keys.size)
    from_b = np.zeros(a_keys.size + b_keys.size, dtype=bool)
    from_b[at] = True
    keys = np.empty(from_b.size, dtype=np.int64)
    slots = np.empty(from_b.size, dtype=np.int32)
    keys[at], slots[at] = b_keys, b_slots  # b_slots: any order, they follow their keys
    keys[~from_b], slots[~from_b] = a_keys, a_slots
    return keys, slots


class FusedCloud:
    """Voxel-averaged cloud in the fixed frame with a hard cap on voxels.

    Each voxel keeps running sums, so its point is the exact mean of everything seen
    in it. Beyond ``max_points`` voxels the least recently observed ones are dropped
    (not re-voxelised coarser), pruning down to 90% of the cap so it happens rarely:
    the area the robot sees now stays at full resolution, and memory is bounded by
    ``max_points`` x 72 bytes (60 B of per-voxel slots + a 12 B key -> slot index).
    Each voxel also keeps the stamps of the frames or clouds that first and last observed
    it, so a scene seen only as point clouds (no keyframes) still says when each part was
    first and last seen (``stamps``).

    Voxels live in slots (pruned ones become holes that new voxels reuse); lookups go
    through a sorted (key, slot) index plus a small sorted delta of recent inserts,
    merged into the index in O(M) only once it reaches 1/8 of it, so a frame costs
    O(frame + log M) amortised, not an O(M) ``np.insert`` of every array.
    """

    BYTES_PER_VOXEL = 72  # the memory bound per voxel of the cap (see above)

    def __init__(self, voxel: float, max_points: int) -> None:
        if not voxel > 0 or max_points < 1:
            raise GeodeError(f'bad fused-cloud settings voxel={voxel}, max_points={max_points}')
        self.voxel = float(voxel)
        self.max_points = int(max_points)
        self.clear()

    def clear(self) -> None:
        self._n = 0  # slots in use, holes included
        self._tick = 0
        self._sum = np.zeros((0, 3), np.float64)
        self._csum = np.zeros((0, 3), np.float32)
        self._count = np.zeros(0, np.float32)  # 0 marks a hole
        self._seen = np.zeros(0, np.int32)
        self._first = np.zeros(0, np.float64)  # stamp of the first observation
        self._last = np.zeros(0, np.float64)  # stamp of the latest observation
        self._free = np.zeros(0, np.int32)  # holes left by pruning
        self._ikey, self._islot = np.zeros(0, np.int64), np.zeros(0, np.int32)  # sorted index
        self._dkey, self._dslot = np.zeros(0, np.int64), np.zeros(0, np.int32)  # sorted delta

    def _slots(self) -> tuple[np.ndarray, ...]:
        return self._sum, self._csum, self._count, self._seen, self._first, self._last

    def _grow(self, need: int) -> None:
        """Room for ``need`` slots: 1.5x growth, never past the cap."""
        cap = min(max(need, self._count.size * 3 // 2 + 64), max(self.max_points, need))
        grown = []
        for a in self._slots():
            b = np.zeros((cap, *a.shape[1:]), a.dtype)
            b[:self._n] = a[:self._n]
            grown.append(b)
        self._sum, self._csum, self._count, self._seen, self._first, self._last = grown

    def __len__(self) -> int:
        return self._n - int(self._free.size)

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (*self._slots(), self._free, self._ikey, self._islot,
                                      self._dkey, self._dslot))

    def _key_of(self, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(over='ignore', invalid='ignore'):
            f = np.floor(xyz * (1.0 / self.voxel))
        ok = np.all((f >= -_HALF) & (f < _HALF), axis=1)  # in key range (NaN: False)
        q = f[ok].astype(np.int64) + _HALF
        return (q[:, 0] << (2 * _BITS)) | (q[:, 1] << _BITS) | q[:, 2], ok

    def _lookup(self, keys: np.ndarray) -> np.ndarray:
        """Slot of each sorted key, -1 where absent."""
        slot = np.full(keys.size, -1, np.int64)
        for ikey, islot in ((self._ikey, self._islot), (self._dkey, self._dslot)):
            if ikey.size == 0:
                continue
            pos = np.minimum(np.searchsorted(ikey, keys), ikey.size - 1)
            hit = (ikey[pos] == keys) & (slot < 0)
            slot[hit] = islot[pos[hit]]
        return slot

    def add(self, xyz: np.ndarray, rgb: np.ndarray | None, stamp: float | None = None) -> None:
        """Fuse [N, 3] points (fixed frame) with optional [N, 3] uint8 colours; ``stamp``
        (seconds) is recorded on the voxels this call creates and observes (None: the
        call's count)."""
        if xyz.shape[0] == 0:
            return
        if rgb is None:
            rgb = np.full(xyz.shape, 128, np.uint8)
        keys, ok = self._key_of(xyz)
        xyz, rgb = xyz[ok], rgb[ok]
        if keys.size == 0:
            return
        self._tick += 1
        if self._tick >= 2**31 - 2:  # int32 ticks: rebase (only their order matters)
            live = self._count[:self._n] > 0
            self._seen[:self._n][live] -= self._seen[:self._n][live].min()
            self._tick = int(self._seen[:self._n][live].max()) + 1
        inverse, ukeys, cnt = group_ids(keys)  # group the frame's points first
        g = ukeys.size
        psum = np.stack([np.bincount(inverse, xyz[:, k], g) for k in range(3)], axis=1)
        csum = np.stack([np.bincount(inverse, rgb[:, k], g) for k in range(3)], axis=1)
        slot = self._lookup(ukeys)
        hit = slot >= 0
        h = slot[hit]
        self._sum[h] += psum[hit]
        self._csum[h] += csum[hit]
        self._count[h] += cnt[hit]
        self._seen[h] = self._tick
        when = float(self._tick if stamp is None else stamp)
        self._last[h] = np.maximum(self._last[h], when)
        miss = ~hit
        self._insert(ukeys[miss], psum[miss], csum[miss], cnt[miss], when)

    def _insert(self, keys: np.ndarray, psum: np.ndarray, csum: np.ndarray,
                cnt: np.ndarray, stamp: float) -> None:
        """New voxels (sorted keys) into holes, then fresh slots; prune first when over the cap."""
        target = int(self.max_points * 0.9)
        if len(self) + keys.size > self.max_points:
            if keys.size > target:  # one huge frame: keep part of it, as the old prune did
                keys, psum, csum, cnt = keys[:target], psum[:target], csum[:target], cnt[:target]
            self._prune(max(target - keys.size, 0))
        m, n = keys.size, self._n
        reuse = min(m, self._free.size)
        fresh = m - reuse
        if n + fresh > self._count.size:
            self._grow(n + fresh)
        slots = np.concatenate([self._free[:reuse], np.arange(n, n + fresh, dtype=np.int32)])
        self._free = self._free[reuse:].copy()  # no view pinning the old buffer
        self._n = n + fresh
        self._sum[slots], self._csum[slots], self._count[slots] = psum, csum, cnt
        self._seen[slots] = self._tick
        self._first[slots] = stamp
        self._last[slots] = stamp
        self._dkey, self._dslot = _merge(self._dkey, self._dslot, keys, slots)
        if self._dkey.size > max(4096, self._ikey.size // 8):
            self._ikey, self._islot = _merge(self._ikey, self._islot, self._dkey, self._dslot)
            self._dkey, self._dslot = np.zeros(0, np.int64), np.zeros(0, np.int32)

    def _prune(self, keep: int) -> None:
        """Keep the ``keep`` most recently seen voxels; the rest become holes (O(M), rare)."""
        n = self._n
        excess = len(self) - keep
        if excess <= 0:
            return
        seen = self._seen[:n]
        seen[self._count[:n] == 0] = np.iinfo(np.int32).max  # holes are never picked
        drop = np.argpartition(seen, excess - 1)[:excess].astype(np.int32)
        self._count[drop] = 0
        self._sum[drop], self._csum[drop] = 0.0, 0.0
        self._free = np.concatenate([self._free, drop])
        for name in ('_i', '_d'):  # drop the pruned voxels from the index (stays sorted)
            ikey, islot = getattr(self, name + 'key'), getattr(self, name + 'slot')
            live = self._count[islot] > 0
            setattr(self, name + 'key', ikey[live])
            setattr(self, name + 'slot', islot[live])

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """(xyz [M, 3] float32, rgb [M, 3] uint8): per-voxel means (new arrays)."""
        c = self._count[:self._n]
        live = c > 0
        c = c[live][:, None]
        xyz = (self._sum[:self._n][live] / c).astype(np.float32)
        rgb = np.clip(np.rint(self._csum[:self._n][live] / c), 0, 255).astype(np.uint8)
        return xyz, rgb

    def stamps(self) -> np.ndarray:
        """[M, 2] stamps at which each voxel of ``points()`` (same order) was first and last
        observed."""
        live = self._count[:self._n] > 0
        return np.stack([self._first[:self._n][live], self._last[:self._n][live]], 1)
