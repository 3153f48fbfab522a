"""ROS-free MCAP output: answer boxes as MarkerArray and the fused cloud as PointCloud2.

Messages are ``rosbags`` objects of the ROS 2 Jazzy typestore, so no ROS install is
needed; the file is one self-contained ``.mcap`` (schemas embedded) that Foxglove
opens directly and ``ros2 bag play`` replays into RViz. Markers look like the node's
(``geode_ros/ros/markers.py``): DELETEALL, then per box a CUBE and a TEXT label above
it, coloured by label.
"""

from __future__ import annotations

import shutil
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.scene.geometry import yaw_to_quat_xyzw
from geode_ros.scene.pointcloud2 import create_cloud_xyzrgb
from geode_ros.scene.types import Box3D

MARKERS_TOPIC, CLOUD_TOPIC = '/geode/markers', '/geode/cloud'
MARKER_ARRAY, CLOUD = 'visualization_msgs/msg/MarkerArray', 'sensor_msgs/msg/PointCloud2'
# Tableau-10, distinct on a dark background; the node's markers use it too.
PALETTE: tuple[tuple[float, float, float], ...] = (
    (0.122, 0.467, 0.706), (1.000, 0.498, 0.055), (0.173, 0.627, 0.173),
    (0.839, 0.153, 0.157), (0.580, 0.404, 0.741), (0.549, 0.337, 0.294),
    (0.890, 0.467, 0.761), (0.498, 0.498, 0.498), (0.737, 0.741, 0.133),
    (0.090, 0.745, 0.812),
)
TEXT_HEIGHT = 0.15  # m
TEXT_GAP = 0.10  # m between the box top and its label


def label_rgb(label: str) -> tuple[float, float, float]:
    """A colour that depends only on ``label`` (CRC32: stable across runs)."""
    return PALETTE[zlib.crc32(label.encode('utf-8')) % len(PALETTE)]


def _typestore() -> Any:
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_JAZZY)


class McapOut:
    """Write /geode/markers and /geode/cloud into one MCAP file; use as a context manager."""

    def __init__(self, path: str | Path, frame_id: str = 'map', ns: str = 'geode',
                 alpha: float = 0.5) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.suffix != '.mcap':
            raise GeodeError(f'MCAP output must end in .mcap, got {self.path}')
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.frame_id, self.ns, self.alpha = frame_id, ns, float(alpha)
        self._ts = _typestore()
        self._tmp = Path(tempfile.mkdtemp(prefix='.geode-mcap-', dir=self.path.parent))
        self._writer = Writer(self._tmp / 'bag', version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._conns: dict[str, Any] = {}
        self.counts: dict[str, int] = {MARKERS_TOPIC: 0, CLOUD_TOPIC: 0}

    def __enter__(self) -> McapOut:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- messages
    def _header(self, stamp: float) -> Any:
        M = self._ts.types
        ns = max(0, int(round(float(stamp) * 1e9)))
        return M['std_msgs/msg/Header'](
            stamp=M['builtin_interfaces/msg/Time'](sec=ns // 10**9, nanosec=ns % 10**9),
            frame_id=self.frame_id)

    def _marker(self, header: Any, mid: int, mtype: int, action: int,
                center: Sequence[float] = (0.0, 0.0, 0.0), yaw: float = 0.0,
                scale: Sequence[float] = (0.0, 0.0, 0.0),
                rgba: Sequence[float] = (0.0, 0.0, 0.0, 0.0), text: str = '') -> Any:
        M = self._ts.types
        q = yaw_to_quat_xyzw(yaw)
        return M['visualization_msgs/msg/Marker'](
            header=header, ns=self.ns, id=mid, type=mtype, action=action,
            pose=M['geometry_msgs/msg/Pose'](
                position=M['geometry_msgs/msg/Point'](*(float(v) for v in center)),
                orientation=M['geometry_msgs/msg/Quaternion'](*(float(v) for v in q))),
            scale=M['geometry_msgs/msg/Vector3'](*(float(v) for v in scale)),
            color=M['std_msgs/msg/ColorRGBA'](*(float(v) for v in rgba)),
            lifetime=M['builtin_interfaces/msg/Duration'](sec=0, nanosec=0),
            frame_locked=False, points=[], colors=[], texture_resource='',
            texture=M['sensor_msgs/msg/CompressedImage'](
                header=header, format='', data=np.zeros(0, np.uint8)),
            uv_coordinates=[], text=text, mesh_resource='',
            mesh_file=M['visualization_msgs/msg/MeshFile'](filename='',
                                                           data=np.zeros(0, np.uint8)),
            mesh_use_embedded_materials=False)

    def marker_array(self, boxes: Sequence[Box3D], stamp: float) -> Any:
        """DELETEALL, then per box a CUBE (id 2i) and a TEXT_VIEW_FACING label (id 2i + 1)."""
        M = self._ts.types
        Marker = M['visualization_msgs/msg/Marker']
        header = self._header(stamp)
        markers = [self._marker(header, 0, Marker.CUBE, Marker.DELETEALL)]
        for i, box in enumerate(boxes):
            center = np.asarray(box.center, dtype=np.float64).reshape(3)
            size = np.maximum(np.abs(np.asarray(box.size, dtype=np.float64).reshape(3)), 1e-3)
            r, g, b = label_rgb(box.label)
            markers.append(self._marker(header, 2 * i, Marker.CUBE, Marker.ADD, center,
                                        box.yaw, size, (r, g, b, self.alpha)))
            top = (center[0], center[1], center[2] + size[2] / 2.0 + TEXT_GAP)
            text = f'{box.label} {box.score:.2f}' if box.score < 1.0 else box.label
            markers.append(self._marker(header, 2 * i + 1, Marker.TEXT_VIEW_FACING, Marker.ADD,
                                        top, 0.0, (0.0, 0.0, TEXT_HEIGHT), (r, g, b, 1.0), text))
        return M[MARKER_ARRAY](markers=markers)

    def cloud(self, xyz: np.ndarray, rgb: np.ndarray | None, stamp: float) -> Any:
        """sensor_msgs/PointCloud2 (x, y, z + packed rgb float32) in ``frame_id``."""
        M = self._ts.types
        c = create_cloud_xyzrgb(None, xyz, rgb)
        fields = [M['sensor_msgs/msg/PointField'](name=f.name, offset=f.offset,
                                                  datatype=f.datatype, count=f.count)
                  for f in c.fields]
        return M[CLOUD](header=self._header(stamp), height=c.height, width=c.width,
                        fields=fields, is_bigendian=c.is_bigendian, point_step=c.point_step,
                        row_step=c.row_step, data=np.frombuffer(c.data, np.uint8),
                        is_dense=c.is_dense)

    # -------------------------------------------------------------- writing
    def _write(self, topic: str, msgtype: str, msg: Any, stamp: float) -> None:
        if topic not in self._conns:
            self._conns[topic] = self._writer.add_connection(topic, msgtype, typestore=self._ts)
        t_ns = max(0, int(round(float(stamp) * 1e9)))
        self._writer.write(self._conns[topic], t_ns, self._ts.serialize_cdr(msg, msgtype))
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def write_markers(self, boxes: Sequence[Box3D], stamp: float) -> None:
        """One MarkerArray on /geode/markers (an empty ``boxes`` clears the display)."""
        self._write(MARKERS_TOPIC, MARKER_ARRAY, self.marker_array(boxes, stamp), stamp)

    def write_cloud(self, xyz: np.ndarray, rgb: np.ndarray | None, stamp: float) -> None:
        """One PointCloud2 on /geode/cloud."""
        self._write(CLOUD_TOPIC, CLOUD, self.cloud(xyz, rgb, stamp), stamp)

    def close(self) -> Path:
        """Finish the file: move the bag's single .mcap to ``path``; returns it."""
        if self._writer is None:
            return self.path
        try:
            self._writer.close()
            self._writer = None
            files = sorted((self._tmp / 'bag').glob('*.mcap'))
            if len(files) != 1:
                raise GeodeError(f'expected one .mcap file from the bag writer, got {files}')
            shutil.move(str(files[0]), self.path)
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)
        return self.path
