import numpy as np

from geode_ros.scene.geometry import pose_to_matrix, yaw_to_quat_xyzw
from geode_ros.scene.keyframes import FusedCloud, KeyframeBuffer
from geode_ros.scene.types import CameraIntrinsics, RGBDFrame

INTR = CameraIntrinsics(10, 10, 2, 2, 4, 4)


def frame(x=0.0, yaw=0.0):
    T = pose_to_matrix([x, 0, 0], yaw_to_quat_xyzw(yaw))
    return RGBDFrame(np.zeros((4, 4, 3), np.uint8), np.ones((4, 4), np.float32), INTR, T)


def test_motion_thresholds_ring_and_cached_features():
    calls = []
    buf = KeyframeBuffer(3, 0.5, 20.0, encode=lambda f: calls.append(f) or len(calls))
    assert buf.maybe_add(frame()) is not None
    assert buf.maybe_add(frame(0.2)) is None  # too little motion
    assert buf.maybe_add(frame(0.0, np.radians(25))) is not None  # rotation
    for x in (1.0, 2.0, 3.0):
        buf.maybe_add(frame(x))
    kfs = buf.keyframes()
    assert len(kfs) == 3 and [k.index for k in kfs] == [2, 3, 4]
    assert [k.features for k in kfs] == [3, 4, 5] and len(calls) == 5
    buf.set_encoder(None)
    assert all(k.features is None for k in buf.keyframes()) and buf.generation == 1


def test_fused_cloud_means_and_cap():
    cloud = FusedCloud(voxel=1.0, max_points=3)
    cloud.add(np.array([[0.2, 0.2, 0.2], [0.4, 0.4, 0.4]], np.float32),
              np.array([[0, 0, 0], [100, 100, 100]], np.uint8))
    cloud.add(np.array([[0.3, 0.3, 0.3]], np.float32), None)
    cloud.add(np.array([[5.5, 0.5, 0.5]], np.float32), None)
    xyz, rgb = cloud.points()
    order = np.argsort(xyz[:, 0])
    assert np.allclose(xyz[order[0]], 0.3) and rgb[order[0]].tolist() == [76, 76, 76]
    cloud.add(np.array([[10.5, 0, 0], [20.5, 0, 0]], np.float32), None)
    xyz, _ = cloud.points()
    assert len(cloud) == 2  # over the cap of 3: pruned to 90%, least recently seen first
    assert sorted(np.round(xyz[:, 0], 1).tolist()) == [10.5, 20.5]
    assert cloud.nbytes() < 1000
