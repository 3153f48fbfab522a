"""One way in for recorded RGB-D: rosbag2, frames folder, 7-Scenes or TUM RGB-D.

``open_rgbd`` detects the layout (or takes it), reads it with its reader and, when
the dataset's world is not z-up, rotates every pose so it is (``up_axis``; see
``geode_ros.scene.geometry`` for the convention). Used by ``geode-replay`` and
``geode-bench ingest``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from geode_ros.config import check_choice
from geode_ros.data.frames import FramesFolder, read_intrinsics_json
from geode_ros.data.tum import TUM_DEPTH_SCALE, TumSequence, is_tum_folder
from geode_ros.errors import GeodeError
from geode_ros.scene.depth import depth_to_points
from geode_ros.scene.geometry import axis_vector, rotation_to_z_up
from geode_ros.scene.gravity import estimate_up
from geode_ros.scene.types import RGBDFrame

log = logging.getLogger(__name__)

FORMATS = ('auto', 'rosbag', 'frames', '7scenes', 'tum')


def detect_format(path: str | Path) -> str:
    """'rosbag', 'frames' (with intrinsics.json), '7scenes' (without) or 'tum'."""
    path = Path(path)
    if path.is_file() and path.suffix in ('.mcap', '.db3'):
        return 'rosbag'
    if not path.is_dir():
        raise GeodeError(f'{path} not found (expected a rosbag2, a frames folder, a 7-Scenes '
                         'sequence or a TUM RGB-D sequence)')
    if (path / 'metadata.yaml').is_file() or any(path.glob('*.mcap')) or any(
            path.glob('*.db3')):
        return 'rosbag'
    if is_tum_folder(path):
        return 'tum'
    if (path / 'intrinsics.json').is_file():
        return 'frames'
    if any(path.glob('frame-*.pose.txt')):
        return '7scenes'
    raise GeodeError(f'{path}: not a rosbag2 (metadata.yaml), frames folder '
                     '(intrinsics.json + frame-NNNNNN.*), 7-Scenes sequence '
                     '(frame-NNNNNN.pose.txt) or TUM sequence (rgb.txt, depth.txt, '
                     'groundtruth.txt)')


@dataclass
class RgbdSource:
    """Recorded frames, ready for ``engine.ingest_frame``."""

    kind: str
    frames: Iterable[RGBDFrame]
    start: float
    length: int | None = None
    reader: Any = None  # FramesFolder / TumSequence (raw depth access), None for bags
    align: np.ndarray | None = None  # 4x4 applied to every pose (None = already z-up)


def _aligned(frames: Iterable[RGBDFrame], A: np.ndarray | None) -> Iterator[RGBDFrame]:
    for frame in frames:
        yield frame if A is None else replace(frame, T_world_cam=A @ frame.T_world_cam)


def _sample_points(reader: Any, frames: int = 12, stride: int = 4) -> np.ndarray:
    """World points from up to ``frames`` frames spread over the sequence (for gravity)."""
    picks = np.unique(np.linspace(0, len(reader) - 1, min(frames, len(reader))).astype(int))
    parts = []
    for i in picks:
        f = reader[int(i)]
        xyz, _ = depth_to_points(f.depth, f.intrinsics, f.T_world_cam, None, 0.1, 8.0, stride)
        parts.append(xyz)
    return np.concatenate(parts) if parts else np.zeros((0, 3))


def _alignment(up_axis: str, reader: Any) -> np.ndarray | None:
    if up_axis == 'z':
        return None
    if up_axis == 'auto':
        if reader is None:
            raise GeodeError('up_axis auto needs a frames folder or TUM sequence; give the '
                             'axis (z, -y, ...) for a bag')
        poses = [reader.read_pose(i) for i in range(len(reader))]
        up = estimate_up(poses, _sample_points(reader))
    else:
        up = axis_vector(up_axis)
    return rotation_to_z_up(up)


def open_rgbd(path: str | Path, fmt: str = 'auto', fixed_frame: str = 'map',
              intrinsics: str | Path | None = None, up_axis: str = 'z',
              bag_options: dict[str, Any] | None = None) -> RgbdSource:
    """Open recorded RGB-D at ``path``.

    Args:
        fmt: one of ``FORMATS``; auto detects it.
        intrinsics: an ``intrinsics.json``-style file for folders without one (7-Scenes,
            TUM; depth_scale defaults to the layout's: 0.001, TUM 1/5000); ignored for
            bags (CameraInfo).
        up_axis: the dataset world's up direction ('z', '-y', ...), or 'auto' (folders
            only: from the cameras' mean down axis); poses are rotated so it becomes +z.
        bag_options: keyword arguments of ``read_rosbag`` (topics, camera_frame,
            depth_scale_16u).
    """
    check_choice('format', fmt, FORMATS)
    kind = detect_format(path) if fmt == 'auto' else fmt
    scale = TUM_DEPTH_SCALE if kind == 'tum' else 0.001  # when the file does not say
    camera = read_intrinsics_json(intrinsics, scale) if intrinsics else None
    if kind == 'rosbag':
        from geode_ros.data.rosbag_reader import _open, read_rosbag

        reader = _open(path)
        try:
            start = reader.start_time * 1e-9
        finally:
            reader.close()
        A = _alignment(up_axis, None)
        frames = read_rosbag(path, fixed_frame=fixed_frame, **(bag_options or {}))
        return RgbdSource(kind, _aligned(frames, A), start, None, None, A)
    if kind in ('frames', '7scenes'):
        folder = FramesFolder(path, fixed_frame, camera)
        first = folder.indices[0] / folder.fps
    else:
        folder = TumSequence(path, fixed_frame, camera)
        first = folder.items[0][0]
    A = _alignment(up_axis, folder)
    return RgbdSource(kind, _Reiterable(folder, A), first, len(folder), folder, A)


class _Reiterable:
    """Iterate a folder reader again and again, aligned."""

    def __init__(self, reader: Any, A: np.ndarray | None) -> None:
        self.reader, self.A = reader, A

    def __iter__(self) -> Iterator[RGBDFrame]:
        return _aligned(self.reader, self.A)

    def __len__(self) -> int:
        return len(self.reader)
