"""Frames folder (7-Scenes style) reader and writer.

Layout: ``intrinsics.json`` (fx, fy, cx, cy, width, height, depth_scale[, fps]) and
per frame ``frame-NNNNNN.color.png|jpg``, ``frame-NNNNNN.depth.png`` (uint16,
metres = value x depth_scale, 0 = invalid), ``frame-NNNNNN.pose.txt`` (4x4 camera-to-world).

A Microsoft 7-Scenes sequence (``chess/seq-01``) is the same layout without
``intrinsics.json``: its Kinect defaults (``SEVEN_SCENES``) are used then, or an
intrinsics file given by the caller.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.scene.geometry import check_pose
from geode_ros.scene.types import CameraIntrinsics, RGBDFrame

log = logging.getLogger(__name__)
_DEPTH_RE = re.compile(r'^frame-(\d+)\.depth\.png$')


@dataclass(frozen=True)
class FolderCamera:
    """What ``intrinsics.json`` holds: pinhole intrinsics, depth units and frame rate."""

    intrinsics: CameraIntrinsics
    depth_scale: float = 0.001
    fps: float = 30.0


# Microsoft 7-Scenes (Kinect v1, 640x480, millimetres, 65535 = invalid, 30 Hz).
SEVEN_SCENES = FolderCamera(CameraIntrinsics(585.0, 585.0, 320.0, 240.0, 640, 480), 0.001, 30.0)


def read_intrinsics_json(path: str | Path, default_depth_scale: float = 0.001) -> FolderCamera:
    """An ``intrinsics.json`` file: fx, fy, cx, cy, width, height[, depth_scale, fps]."""
    path = Path(path)
    if not path.is_file():
        raise GeodeError(f'intrinsics file not found: {path}')
    try:
        meta = json.loads(path.read_text())
        cam = FolderCamera(
            CameraIntrinsics(float(meta['fx']), float(meta['fy']), float(meta['cx']),
                             float(meta['cy']), int(meta['width']), int(meta['height'])),
            float(meta.get('depth_scale', default_depth_scale)), float(meta.get('fps', 30.0)))
    except (ValueError, KeyError, TypeError) as exc:
        raise GeodeError(f'{path} is invalid (needs fx, fy, cx, cy, width, height): '
                         f'{exc!r}') from exc
    if cam.depth_scale <= 0 or cam.fps <= 0:
        raise GeodeError(f'{path}: depth_scale and fps must be positive')
    return cam


class FramesFolder:
    """Random access to a frames folder; iterating yields RGBDFrame (depth in metres)."""

    def __init__(self, folder: str | Path, frame_id: str = 'map',
                 camera: FolderCamera | None = None) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise GeodeError(f'frames folder not found: {self.folder}')
        meta_path = self.folder / 'intrinsics.json'
        if camera is None and meta_path.is_file():
            camera = read_intrinsics_json(meta_path)
        elif camera is None:
            if not any(self.folder.glob('frame-*.pose.txt')):
                raise GeodeError(f'{meta_path} missing: a frames folder needs '
                                 'intrinsics.json (or give an intrinsics file)')
            log.warning('%s has no intrinsics.json: using the 7-Scenes Kinect defaults '
                        '(fx=fy=585, cx=320, cy=240, 640x480, millimetres)', self.folder)
            camera = SEVEN_SCENES
        self.camera = camera
        self.intrinsics = camera.intrinsics
        self.depth_scale = camera.depth_scale
        self.fps = camera.fps
        self.frame_id = frame_id
        found = (_DEPTH_RE.match(p.name) for p in self.folder.iterdir())
        self.indices = sorted(int(m.group(1)) for m in found if m)
        if not self.indices:
            raise GeodeError(f'no frame-NNNNNN.depth.png files in {self.folder}')

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[RGBDFrame]:
        for i in range(len(self)):
            yield self[i]

    def _path(self, index: int, suffix: str) -> Path:
        return self.folder / f'frame-{index:06d}.{suffix}'

    def read_depth_raw(self, i: int) -> np.ndarray:
        """uint16 depth image of the i-th frame (as stored)."""
        path = self._path(self.indices[i], 'depth.png')
        depth = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if depth is None or depth.dtype != np.uint16 or depth.ndim != 2:
            raise GeodeError(f'{path} is not a single-channel uint16 PNG')
        return depth

    def read_color_path(self, i: int) -> Path:
        idx = self.indices[i]
        for ext in ('color.png', 'color.jpg'):
            if self._path(idx, ext).is_file():
                return self._path(idx, ext)
        raise GeodeError(f'frame {idx}: no frame-{idx:06d}.color.png|jpg in {self.folder}')

    def read_pose(self, i: int) -> np.ndarray:
        path = self._path(self.indices[i], 'pose.txt')
        try:
            T = np.loadtxt(path, dtype=np.float64)
        except (OSError, ValueError) as exc:
            raise GeodeError(f'cannot read pose {path}: {exc}') from exc
        return check_pose(T, f'pose in {path.name}')

    def __getitem__(self, i: int) -> RGBDFrame:
        intr = self.intrinsics
        raw = self.read_depth_raw(i)
        if raw.shape != (intr.height, intr.width):
            raise GeodeError(f'depth {raw.shape} does not match intrinsics.json '
                             f'{intr.height}x{intr.width}')
        bgr = cv2.imread(str(self.read_color_path(i)), cv2.IMREAD_COLOR)
        if bgr is None:
            raise GeodeError(f'cannot decode {self.read_color_path(i)}')
        if bgr.shape[:2] != raw.shape:
            bgr = cv2.resize(bgr, (intr.width, intr.height), interpolation=cv2.INTER_LINEAR)
        depth = raw.astype(np.float32) * np.float32(self.depth_scale)
        return RGBDFrame(rgb=np.ascontiguousarray(bgr[..., ::-1]), depth=depth,
                         intrinsics=intr, T_world_cam=self.read_pose(i),
                         stamp=self.indices[i] / self.fps, frame_id=self.frame_id)


def read_frames_folder(folder: str | Path, frame_id: str = 'map') -> Iterator[RGBDFrame]:
    """Yield the RGBDFrames of a frames folder in index order."""
    yield from FramesFolder(folder, frame_id)


def write_frames_folder(frames: Iterable[RGBDFrame], out_dir: str | Path,
                        depth_scale: float = 0.001, color_ext: str = 'png',
                        fps: float = 30.0) -> Path:
    """Write frames as a frames folder (depth quantised to uint16 x depth_scale)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if color_ext not in ('png', 'jpg'):
        raise GeodeError(f'color_ext must be png or jpg, got {color_ext!r}')
    intr = None
    for n, frame in enumerate(frames):
        if intr is None:
            intr = frame.intrinsics
            meta = {'fx': intr.fx, 'fy': intr.fy, 'cx': intr.cx, 'cy': intr.cy,
                    'width': intr.width, 'height': intr.height, 'depth_scale': depth_scale,
                    'fps': fps}
            (out / 'intrinsics.json').write_text(json.dumps(meta, indent=2) + '\n')
        elif frame.intrinsics != intr:
            raise GeodeError('all frames in a frames folder must share one intrinsics')
        d = np.asarray(frame.depth, dtype=np.float64) / depth_scale
        d = np.where(np.isfinite(d) & (d > 0) & (d < 65535.5), np.rint(d), 0.0)
        cv2.imwrite(str(out / f'frame-{n:06d}.depth.png'), d.astype(np.uint16))
        rgb = np.asarray(frame.rgb, dtype=np.uint8)
        cv2.imwrite(str(out / f'frame-{n:06d}.color.{color_ext}'), rgb[..., ::-1])
        np.savetxt(out / f'frame-{n:06d}.pose.txt', check_pose(frame.T_world_cam), fmt='%.9f')
    if intr is None:
        raise GeodeError('no frames to write')
    return out
