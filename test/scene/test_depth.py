import numpy as np
import open3d as o3d
import pytest
import torch

from geode_ros.errors import GeodeError
from geode_ros.scene.depth import depth_to_points, voxel_downsample
from geode_ros.scene.types import CameraIntrinsics

INTR = CameraIntrinsics(50.0, 52.0, 15.5, 11.5, 32, 24)


def _depth():
    rng = np.random.default_rng(3)
    d = rng.uniform(0.5, 4.0, (24, 32)).astype(np.float32)
    d[0, 0], d[1, 1], d[2, 2], d[3, 3], d[4, 4] = 0.0, np.nan, np.inf, 0.05, 9.0
    return d


def test_back_projection_matches_pinhole_and_filters():
    d = _depth()
    xyz, rgb = depth_to_points(d, INTR, min_depth=0.1, max_depth=8.0)
    assert rgb is None and xyz.dtype == np.float32
    assert xyz.shape[0] == d.size - 5
    v, u = 5, 7
    z = d[v, u]
    expect = [(u - INTR.cx) * z / INTR.fx, (v - INTR.cy) * z / INTR.fy, z]
    assert np.any(np.all(np.isclose(xyz, expect, atol=1e-6), axis=1))


def test_transform_rgb_stride_and_torch_agree():
    d = _depth()
    rgb = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    T = np.eye(4)
    T[:3, :3] = [[0, 0, 1], [-1, 0, 0], [0, -1, 0]]
    T[:3, 3] = [1, 2, 3]
    xyz, col = depth_to_points(d, INTR, T, rgb, 0.1, 8.0, stride=2)
    cam, _ = depth_to_points(d, INTR, None, None, 0.1, 8.0, stride=2)
    assert np.allclose(xyz, cam @ T[:3, :3].T + T[:3, 3], atol=1e-5)
    assert col.shape == xyz.shape and col.dtype == np.uint8
    txyz, tcol = depth_to_points(torch.from_numpy(d), INTR, T, torch.from_numpy(rgb), 0.1, 8.0,
                                 stride=2)
    assert isinstance(txyz, torch.Tensor)
    assert np.allclose(txyz.numpy(), xyz, atol=1e-5) and np.array_equal(tcol.numpy(), col)


def test_matches_open3d_back_projection():
    mm = np.random.default_rng(1).integers(0, 3000, (24, 32)).astype(np.uint16)
    ours, _ = depth_to_points(mm.astype(np.float32) / 1000, INTR, max_depth=2.5)
    pin = o3d.camera.PinholeCameraIntrinsic(32, 24, INTR.fx, INTR.fy, INTR.cx, INTR.cy)
    pcd = o3d.geometry.PointCloud.create_from_depth_image(
        o3d.geometry.Image(mm), pin, depth_scale=1000.0, depth_trunc=2.5)
    assert np.allclose(np.asarray(pcd.points), ours, atol=1e-5)


def test_voxel_downsample_matches_open3d():
    rng = np.random.default_rng(2)
    xyz = rng.uniform(-1, 2, (5000, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, (5000, 3), dtype=np.uint8)
    ours, col = voxel_downsample(xyz, rgb, 0.25)
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz.astype(np.float64)))
    pcd.colors = o3d.utility.Vector3dVector(rgb / 255.0)
    ref = pcd.voxel_down_sample(0.25)
    a = ours[np.lexsort(ours.T)]
    b = np.asarray(ref.points)[np.lexsort(np.asarray(ref.points).T)]
    assert a.shape == b.shape and np.allclose(a, b, atol=1e-4)
    assert col.dtype == np.uint8 and col.shape == ours.shape


def test_errors():
    with pytest.raises(GeodeError):
        depth_to_points(np.zeros((3, 3), np.float32), INTR)
    with pytest.raises(GeodeError):
        voxel_downsample(np.zeros((3, 2)), None, 0.1)
    with pytest.raises(GeodeError):
        voxel_downsample(np.zeros((3, 3)), None, 0.0)
    assert voxel_downsample(np.zeros((0, 3), np.float32), None, 0.1)[0].shape == (0, 3)
