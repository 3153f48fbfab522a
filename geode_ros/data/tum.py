"""TUM RGB-D benchmark layout reader (``rgb.txt``, ``depth.txt``, ``groundtruth.txt``).

Each list file holds ``timestamp path`` lines (``#`` comments); ``groundtruth.txt``
holds ``timestamp tx ty tz qx qy qz qw``: the colour camera's optical centre in the
world of the motion-capture system (quaternion in ROS order). Depth images are
16-bit PNG (or PGM) with 5000 units per metre. Every RGB image is paired with the
nearest depth image and the nearest ground-truth pose, each within ``max_dt``;
images without both are skipped (and counted).

Intrinsics: the Freiburg 1/2/3 calibrations when the folder name says which
(``rgbd_dataset_freiburg1_desk``), else the Kinect defaults, or an intrinsics file.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from geode_ros.data.frames import FolderCamera
from geode_ros.errors import GeodeError
from geode_ros.scene.geometry import check_pose, pose_to_matrix
from geode_ros.scene.types import CameraIntrinsics, RGBDFrame

log = logging.getLogger(__name__)

TUM_DEPTH_SCALE = 1.0 / 5000.0
_VGA = (640, 480)
TUM_CAMERAS = {
    'freiburg1': FolderCamera(CameraIntrinsics(517.3, 516.5, 318.6, 255.3, *_VGA),
                              TUM_DEPTH_SCALE),
    'freiburg2': FolderCamera(CameraIntrinsics(520.9, 521.0, 325.1, 249.7, *_VGA),
                              TUM_DEPTH_SCALE),
    'freiburg3': FolderCamera(CameraIntrinsics(535.4, 539.2, 320.1, 247.6, *_VGA),
                              TUM_DEPTH_SCALE),
}
KINECT_DEFAULT = FolderCamera(CameraIntrinsics(525.0, 525.0, 319.5, 239.5, *_VGA),
                              TUM_DEPTH_SCALE)


def is_tum_folder(folder: str | Path) -> bool:
    """True when ``folder`` has the three TUM list files."""
    folder = Path(folder)
    return all((folder / name).is_file() for name in ('rgb.txt', 'depth.txt',
                                                      'groundtruth.txt'))


def _read_list(path: Path, columns: int) -> list[list[str]]:
    if not path.is_file():
        raise GeodeError(f'{path} not found (TUM layout: rgb.txt, depth.txt, groundtruth.txt)')
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0].startswith('#'):
            continue
        if len(parts) < columns:
            raise GeodeError(f'{path}:{n}: expected {columns} columns, got {len(parts)}')
        rows.append(parts[:columns])
    if not rows:
        raise GeodeError(f'{path} lists nothing')
    return rows


def _nearest(stamps: list[float], t: float, max_dt: float) -> int | None:
    i = bisect.bisect_left(stamps, t)
    best = min((j for j in (i - 1, i) if 0 <= j < len(stamps)),
               key=lambda j: abs(stamps[j] - t))
    return best if abs(stamps[best] - t) <= max_dt else None


def tum_camera(folder: Path) -> FolderCamera:
    """The calibration the folder name points at (freiburg1/2/3), else Kinect defaults."""
    name = folder.resolve().name.lower()
    for key, cam in TUM_CAMERAS.items():
        if key in name or f'fr{key[-1]}' in name.split('_'):
            return cam
    return KINECT_DEFAULT


class TumSequence:
    """Random access to the associated (rgb, depth, pose) triples of a TUM sequence."""

    def __init__(self, folder: str | Path, frame_id: str = 'map',
                 camera: FolderCamera | None = None, max_dt: float = 0.02) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise GeodeError(f'TUM sequence folder not found: {self.folder}')
        self.camera = camera or tum_camera(self.folder)
        self.intrinsics = self.camera.intrinsics
        self.frame_id = frame_id
        rgb = [(float(t), p) for t, p in _read_list(self.folder / 'rgb.txt', 2)]
        depth = sorted((float(t), p) for t, p in _read_list(self.folder / 'depth.txt', 2))
        gt = sorted((float(r[0]), [float(v) for v in r[1:]])
                    for r in _read_list(self.folder / 'groundtruth.txt', 8))
        d_stamps, g_stamps = [t for t, _ in depth], [t for t, _ in gt]
        self.items: list[tuple[float, str, str, list[float]]] = []
        for t, rgb_path in sorted(rgb):
            d, g = _nearest(d_stamps, t, max_dt), _nearest(g_stamps, t, max_dt)
            if d is not None and g is not None:
                self.items.append((t, rgb_path, depth[d][1], gt[g][1]))
        self.skipped = len(rgb) - len(self.items)
        if not self.items:
            raise GeodeError(f'{self.folder}: no RGB image has a depth image and a pose '
                             f'within {max_dt} s')
        if self.skipped:
            log.info('%s: %d of %d RGB images have no depth image or pose within %.3f s '
                     '(skipped)', self.folder, self.skipped, len(rgb), max_dt)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[RGBDFrame]:
        for i in range(len(self)):
            yield self[i]

    def read_depth_raw(self, i: int) -> np.ndarray:
        """uint16 depth image of the i-th frame, as stored (x ``depth_scale`` = metres)."""
        path = self.folder / self.items[i][2]
        depth = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if depth is None or depth.dtype != np.uint16 or depth.ndim != 2:
            raise GeodeError(f'{path} is not a single-channel 16-bit PNG/PGM')
        return depth

    def read_pose(self, i: int) -> np.ndarray:
        """T_world_cam of the i-th frame from its ground-truth quaternion pose."""
        tx, ty, tz, qx, qy, qz, qw = self.items[i][3]
        return check_pose(pose_to_matrix([tx, ty, tz], [qx, qy, qz, qw]),
                          f'groundtruth pose at t={self.items[i][0]:.4f}')

    def __getitem__(self, i: int) -> RGBDFrame:
        t, rgb_path, _, _ = self.items[i]
        intr = self.intrinsics
        raw = self.read_depth_raw(i)
        if raw.shape != (intr.height, intr.width):
            raise GeodeError(f'depth {raw.shape} does not match the intrinsics '
                             f'{intr.height}x{intr.width}; give an intrinsics file')
        bgr = cv2.imread(str(self.folder / rgb_path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise GeodeError(f'cannot decode {self.folder / rgb_path}')
        if bgr.shape[:2] != raw.shape:
            bgr = cv2.resize(bgr, (intr.width, intr.height), interpolation=cv2.INTER_LINEAR)
        depth = raw.astype(np.float32) * np.float32(self.camera.depth_scale)
        return RGBDFrame(rgb=np.ascontiguousarray(bgr[..., ::-1]), depth=depth,
                         intrinsics=intr, T_world_cam=self.read_pose(i), stamp=t,
                         frame_id=self.frame_id)
