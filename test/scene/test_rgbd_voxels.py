import numpy as np
import open3d as o3d
import pytest

from geode_ros.errors import GeodeError
from geode_ros.scene.depth import colour_means, depth_to_points, group_ids, voxel_downsample
from geode_ros.scene.rgbd_voxels import rgbd_voxel_downsample
from geode_ros.scene.synthetic_room import synthetic_frames


def _chamfer(a, b):
    pa = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(a, np.float64)))
    pb = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(b, np.float64)))
    return 0.5 * (np.mean(pa.compute_point_cloud_distance(pb))
                  + np.mean(pb.compute_point_cloud_distance(pa)))


def test_group_ids_matches_unique():
    rng = np.random.default_rng(0)
    keys = np.repeat(rng.integers(-5, 50, 300), rng.integers(1, 4, 300))
    inverse, ukeys, counts = group_ids(keys)
    ref, ref_inv, ref_counts = np.unique(keys, return_inverse=True, return_counts=True)
    assert np.array_equal(ukeys, ref) and np.array_equal(inverse, ref_inv)
    assert np.array_equal(counts, ref_counts)
    big = np.array([2**62, -2**62, 5, 2**62], np.int64)  # too wide to pack: argsort path
    inverse, ukeys, counts = group_ids(big)
    assert ukeys.tolist() == [-2**62, 5, 2**62] and inverse.tolist() == [2, 0, 1, 2]
    assert group_ids(np.zeros(0, np.int64))[1].size == 0


def test_colour_means_packed_and_wide_groups_agree():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (3000, 3), dtype=np.uint8)
    for groups in (7, 2):  # 2 groups: > 512 points each, the per-channel fallback
        inverse = rng.integers(0, groups, 3000)
        counts = np.bincount(inverse, minlength=groups).astype(np.float64)
        ref = np.stack([np.bincount(inverse, rgb[:, k], groups) for k in range(3)], 1)
        ref = np.rint(ref / counts[:, None]).astype(np.uint8)
        assert np.array_equal(colour_means(inverse, groups, rgb, counts), ref)
        assert np.array_equal(colour_means(inverse, groups, rgb, counts, 1), ref[1:])


@pytest.mark.parametrize('stride', [1, 2])
def test_fused_path_matches_two_step_path(stride):
    frame = synthetic_frames(3, 64, 48)[1]
    rng = np.random.default_rng(2)
    mm = np.rint(frame.depth * 1000).astype(np.uint16)
    mm[rng.random(mm.shape) < 0.2] = 0  # holes
    mm[:5] = 6000  # beyond max_depth
    xyz, rgb = rgbd_voxel_downsample(mm, frame.intrinsics, frame.T_world_cam, frame.rgb, 0.1,
                                     0.2, 5.0, 0.001, stride)
    pts, col = depth_to_points(mm.astype(np.float32) * np.float32(0.001), frame.intrinsics,
                               frame.T_world_cam, frame.rgb, 0.2, 5.0, stride)
    ref, ref_rgb = voxel_downsample(pts, col, 0.1)
    assert xyz.dtype == np.float32 and rgb.dtype == np.uint8 and rgb.shape == xyz.shape
    assert abs(xyz.shape[0] - ref.shape[0]) <= 2 and _chamfer(xyz, ref) < 1e-4
    assert abs(rgb.astype(float).mean() - ref_rgb.astype(float).mean()) < 1.0


def test_fused_path_matches_open3d_float_depth_and_no_pose():
    frame = synthetic_frames(2, 64, 48)[0]
    depth = frame.depth.copy()
    depth[3, :10] = np.nan
    xyz, rgb = rgbd_voxel_downsample(depth, frame.intrinsics, None, None, 0.05, 0.0, 4.0)
    assert rgb is None
    intr = frame.intrinsics
    pin = o3d.camera.PinholeCameraIntrinsic(intr.width, intr.height, intr.fx, intr.fy,
                                            intr.cx, intr.cy)
    d = np.nan_to_num(depth, nan=0.0).astype(np.float32)
    pcd = o3d.geometry.PointCloud.create_from_depth_image(o3d.geometry.Image(d), pin,
                                                          depth_scale=1.0, depth_trunc=4.0)
    ref = np.asarray(pcd.voxel_down_sample(0.05).points)
    assert abs(xyz.shape[0] - ref.shape[0]) <= 2 and _chamfer(xyz, ref) < 1e-4


def test_fused_path_edge_cases():
    frame = synthetic_frames(1, 32, 24)[0]
    intr = frame.intrinsics
    empty, col = rgbd_voxel_downsample(np.zeros((24, 32), np.uint16), intr, None, frame.rgb,
                                       0.1)
    assert empty.shape == (0, 3) and col.shape == (0, 3)
    with pytest.raises(GeodeError):
        rgbd_voxel_downsample(frame.depth, intr, None, None, 0.0)
    with pytest.raises(GeodeError):
        rgbd_voxel_downsample(frame.depth, intr, None, frame.rgb[:, :, :2], 0.1)
    with pytest.raises(GeodeError):
        rgbd_voxel_downsample(frame.depth[:-1], intr, None, None, 0.1)
