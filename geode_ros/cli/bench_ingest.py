"""``geode-bench ingest`` and ``geode-bench memory``: our ingest path vs Open3D, and memory bounds.

The ingest benchmark times the same work in both pipelines on frames already decoded
into memory (uint16 depth + uint8 RGB; PNG decoding is excluded from both): depth
scaling and truncation, back-projection, transform to the fixed frame and voxel
averaging of points and colours. Timed passes alternate between the two pipelines
(best pass of each kept) so background load hits both alike; it then checks both
give the same cloud (point counts and Chamfer distance).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.query.engine import SpatialQueryEngine
from geode_ros.scene.config import SceneConfig
from geode_ros.scene.keyframes import FusedCloud
from geode_ros.scene.rgbd_voxels import rgbd_voxel_downsample
from geode_ros.scene.synthetic_room import synthetic_frames

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``geode-bench ingest``."""
    parser.add_argument('--frames', type=Path, required=True,
                        help='frames folder, 7-Scenes or TUM sequence, or rosbag2 to ingest')
    parser.add_argument('--intrinsics', type=Path, default=None,
                        help='intrinsics.json-style file for a 7-Scenes/TUM folder')
    parser.add_argument('--json', type=Path, default=None, help='write the results here')
    parser.add_argument('--voxel', type=float, default=0.02, help='voxel size in metres')
    parser.add_argument('--max-depth', type=float, default=8.0, help='depth truncation (m)')
    parser.add_argument('--limit', type=int, default=0, help='use at most this many frames')
    parser.add_argument('--repeat', type=int, default=5,
                        help='timed passes per pipeline, interleaved (best is kept)')


def _load_raw(path: Path, intrinsics: Path | None, limit: int) -> tuple[list, Any, float]:
    """[(rgb, uint16 depth, T)], intrinsics, metres per depth unit, from any RGB-D input."""
    from geode_ros.data.sources import open_rgbd

    source = open_rgbd(path, intrinsics=intrinsics)
    reader = source.reader
    if reader is not None:  # folders: depth exactly as stored
        n = len(reader) if not limit else min(limit, len(reader))
        frames = [(np.ascontiguousarray(f.rgb), reader.read_depth_raw(i), f.T_world_cam)
                  for i, f in zip(range(n), reader)]
        return frames, reader.intrinsics, reader.camera.depth_scale
    frames, intr = [], None
    for f in source.frames:  # bags: depth in metres, back to millimetres
        if limit and len(frames) >= limit:
            break
        mm = np.where(np.isfinite(f.depth), np.rint(f.depth * 1000.0), 0).clip(0, 65535)
        frames.append((np.ascontiguousarray(f.rgb), mm.astype(np.uint16), f.T_world_cam))
        intr = f.intrinsics
    if not frames:
        raise GeodeError(f'no RGB-D frames with a pose in {path}')
    return frames, intr, 0.001


def _ours(frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]], intr: Any, scale: float,
          voxel: float, max_depth: float) -> list[tuple[np.ndarray, np.ndarray]]:
    return [rgbd_voxel_downsample(raw, intr, T, rgb, voxel, 0.0, max_depth, scale)
            for rgb, raw, T in frames]


def _open3d(o3d: Any, frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]], intr: Any,
            scale: float, voxel: float, max_depth: float) -> list[Any]:
    pinhole = o3d.camera.PinholeCameraIntrinsic(intr.width, intr.height, intr.fx, intr.fy,
                                                intr.cx, intr.cy)
    out = []
    for rgb, raw, T in frames:
        rgbd = o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d.geometry.Image(rgb), o3d.geometry.Image(raw), depth_scale=1.0 / scale,
            depth_trunc=max_depth, convert_rgb_to_intensity=False)
        pcd = o3d.geometry.PointCloud.create_from_rgbd_image(rgbd, pinhole)
        pcd.transform(T)
        out.append(pcd.voxel_down_sample(voxel))
    return out


def _timed(fns: list[Any], repeat: int) -> list[tuple[float, Any]]:
    """Best time and last result of each function, passes interleaved (a, b, a, b, ...)."""
    best: list[tuple[float, Any]] = [(float('inf'), None)] * len(fns)
    for _ in range(max(1, repeat)):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            result = fn()
            best[i] = (min(best[i][0], time.perf_counter() - t0), result)
    return best


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Benchmark and compare; returns (and optionally writes) the figures."""
    import open3d as o3d

    frames, intr, scale = _load_raw(args.frames, args.intrinsics, args.limit)
    n = len(frames)
    _ours(frames[:1], intr, scale, args.voxel, args.max_depth)  # warm caches (pixel rays)
    (t_ours, ours), (t_o3d, theirs) = _timed(
        [lambda: _ours(frames, intr, scale, args.voxel, args.max_depth),
         lambda: _open3d(o3d, frames, intr, scale, args.voxel, args.max_depth)], args.repeat)
    xyz_ours = np.concatenate([p for p, _ in ours]).astype(np.float64)
    xyz_o3d = np.concatenate([np.asarray(p.points) for p in theirs])
    a = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz_ours))
    b = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz_o3d))
    chamfer = 0.0
    if len(a.points) and len(b.points):
        chamfer = 0.5 * (float(np.mean(a.compute_point_cloud_distance(b)))
                         + float(np.mean(b.compute_point_cloud_distance(a))))
    result = {
        'frames': n, 'width': intr.width, 'height': intr.height, 'voxel_m': args.voxel,
        'ours_fps': n / t_ours, 'open3d_fps': n / t_o3d, 'speedup': t_o3d / t_ours,
        'points_ours': int(xyz_ours.shape[0]), 'points_open3d': int(xyz_o3d.shape[0]),
        'chamfer_m': chamfer,
        'timing': f'best of {max(1, args.repeat)} interleaved passes per pipeline; frames '
                  'pre-decoded (uint16 depth + uint8 RGB), PNG decoding excluded from both',
    }
    print(f"ingest {n} frames {intr.width}x{intr.height} voxel {args.voxel} m: "
          f"ours {result['ours_fps']:.1f} fps, open3d {result['open3d_fps']:.1f} fps, "
          f"speedup {result['speedup']:.2f}x; points {result['points_ours']} vs "
          f"{result['points_open3d']}, chamfer {chamfer * 1000:.3f} mm")
    print(f"  ({result['timing']})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + '\n')
    return result


def add_memory_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``geode-bench memory``."""
    parser.add_argument('--frames', type=int, default=20000, help='synthetic frames to ingest')
    parser.add_argument('--json', type=Path, default=None, help='write the results here')
    parser.add_argument('--max-points', type=int, default=SceneConfig.max_points)
    parser.add_argument('--max-keyframes', type=int, default=SceneConfig.max_keyframes)
    parser.add_argument('--slack-mb', type=float, default=64.0,
                        help='allowed RSS growth after warm-up beyond the engine caps')


def _rss_bytes() -> int:
    try:
        with open('/proc/self/statm') as fh:
            return int(fh.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except OSError:  # not Linux: peak RSS is the best we have
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_memory(args: argparse.Namespace) -> dict[str, Any]:
    """Ingest many frames of a camera walking an endless corridor; RSS must stay bounded."""
    cfg = SceneConfig(max_points=args.max_points, max_keyframes=args.max_keyframes,
                      keyframe_translation_m=0.2)
    engine = SpatialQueryEngine(cfg)
    base = synthetic_frames(16)
    frame_bytes = base[0].rgb.nbytes + base[0].depth.nbytes
    cap = args.max_points * (FusedCloud.BYTES_PER_VOXEL + 8) + args.max_keyframes * frame_bytes
    rss_start = _rss_bytes()
    warm = max(1, args.frames // 4)
    rss_warm = rss_start
    for i in range(args.frames):
        f = base[i % len(base)]
        T = f.T_world_cam.copy()
        T[0, 3] += 0.05 * i  # always new ground: the cloud keeps growing into its cap
        engine.ingest(f.rgb, f.depth, f.intrinsics, T, stamp=i / 30.0)
        if i + 1 == warm:
            rss_warm = _rss_bytes()
    stats = engine.stats()
    rss_end = _rss_bytes()
    result = {
        'frames': args.frames, 'rss_start_mb': rss_start / 2**20,
        'rss_warm_mb': rss_warm / 2**20, 'rss_end_mb': rss_end / 2**20,
        'engine_mb': stats['memory_bytes'] / 2**20, 'engine_cap_mb': cap / 2**20,
        'points': stats['points'], 'keyframes': stats['keyframes'],
    }
    print(f"memory after {args.frames} frames: RSS {result['rss_start_mb']:.1f} -> "
          f"{result['rss_end_mb']:.1f} MB (after warm-up {result['rss_warm_mb']:.1f} MB); "
          f"engine {result['engine_mb']:.1f} MB of cap {result['engine_cap_mb']:.1f} MB")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + '\n')
    if stats['memory_bytes'] > cap:
        raise GeodeError(f'engine memory {stats["memory_bytes"]} B exceeds its cap {cap} B')
    if rss_end - rss_warm > cap + args.slack_mb * 2**20:
        raise GeodeError(f'RSS grew {(rss_end - rss_warm) / 2**20:.1f} MB after warm-up: '
                         'memory is not bounded')
    return result
