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


def test_fused_cloud_matches_reference_means_over_many_frames():
    rng = np.random.default_rng(4)
    cloud = FusedCloud(voxel=0.5, max_points=10_000)
    sums, counts = {}, {}
    for _ in range(40):
        xyz = rng.uniform(-3, 3, (200, 3)).astype(np.float32)
        rgb = rng.integers(0, 256, (200, 3), dtype=np.uint8)
        cloud.add(xyz, rgb)
        for p, c in zip(xyz.astype(np.float64), rgb):
            k = tuple(np.floor(p / 0.5).astype(int))
            s = sums.setdefault(k, np.zeros(6))
            s += np.concatenate([p, c])
            counts[k] = counts.get(k, 0) + 1
    xyz, rgb = cloud.points()
    assert len(cloud) == len(sums) == xyz.shape[0]
    ref = np.array([sums[k] / counts[k] for k in sorted(sums)])
    got = np.concatenate([xyz, rgb], 1)[np.lexsort(np.floor(xyz / 0.5).T[::-1])]
    assert np.allclose(got[:, :3], ref[:, :3], atol=1e-5)
    assert np.abs(got[:, 3:] - np.rint(ref[:, 3:])).max() <= 1


def test_fused_cloud_keeps_the_first_and_last_stamp_of_every_voxel():
    cloud = FusedCloud(voxel=1.0, max_points=100)
    cloud.add(np.array([[0.5, 0, 0], [1.5, 0, 0]], np.float32), None, stamp=10.0)
    cloud.add(np.array([[1.5, 0, 0], [2.5, 0, 0]], np.float32), None, stamp=11.0)
    cloud.add(np.array([[3.5, 0, 0]], np.float32), None)  # no stamp: the call's count
    xyz, _ = cloud.points()
    seen = dict(zip(np.floor(xyz[:, 0]).astype(int).tolist(), map(tuple, cloud.stamps())))
    assert seen == {0: (10.0, 10.0), 1: (10.0, 11.0), 2: (11.0, 11.0), 3: (3.0, 3.0)}


def test_fused_cloud_prunes_to_holes_and_reuses_them():
    cloud = FusedCloud(voxel=1.0, max_points=100)
    for i in range(30):  # each frame: 20 new voxels along x
        xyz = np.stack([np.arange(20) + 20.0 * i + 0.5, np.zeros(20), np.zeros(20)], 1)
        cloud.add(xyz.astype(np.float32), None)
        assert len(cloud) <= 100
        again = cloud.points()[0]  # re-seeing the newest voxel keeps it: no duplicates
        cloud.add(again[np.argmax(again[:, 0])][None], None)
    xyz, _ = cloud.points()
    assert len(cloud) == xyz.shape[0] and len(np.unique(np.floor(xyz), axis=0)) == len(cloud)
    assert xyz[:, 0].max() > 579 and xyz[:, 0].min() > 400  # newest kept, oldest dropped
    assert cloud.nbytes() <= 100 * 72 + 64  # 60 B of slots (first / last stamps) + index
