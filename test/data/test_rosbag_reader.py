import numpy as np
import pytest

from geode_ros.data.rosbag_reader import (
    BagTopics,
    TfBuffer,
    read_rosbag,
    read_rosbag_clouds,
    write_rgbd_bag,
)
from geode_ros.errors import GeodeError
from geode_ros.scene.geometry import pose_to_matrix
from geode_ros.scene.synthetic_room import synthetic_frames


@pytest.fixture(scope='module')
def frames():
    return synthetic_frames(4, width=32, height=24)


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
@pytest.mark.parametrize('pose_source', ['tf', 'pose'])
def test_write_read_round_trip(tmp_path, frames, storage, pose_source):
    bag = write_rgbd_bag(frames, tmp_path / 'bag', storage=storage, pose_source=pose_source,
                         with_cloud=pose_source == 'tf')
    back = list(read_rosbag(bag))
    assert len(back) == len(frames)
    for a, b in zip(frames, back):
        assert np.array_equal(a.rgb, b.rgb)
        assert np.allclose(a.depth, b.depth, atol=5e-4)
        assert np.allclose(a.T_world_cam, b.T_world_cam, atol=1e-6)  # map->odom->base->cam
        assert b.intrinsics == a.intrinsics and b.frame_id == 'map'
    if pose_source == 'tf':
        clouds = list(read_rosbag_clouds(bag))
        assert len(clouds) == len(frames)
        xyz, rgb, T, _ = clouds[0]
        assert np.allclose(T, frames[0].T_world_cam, atol=1e-6) and rgb.shape == xyz.shape


def test_explicit_topics_and_errors(tmp_path, frames):
    bag = write_rgbd_bag(frames, tmp_path / 'bag', storage='mcap')
    topics = BagTopics(rgb='/camera/color/image_raw', depth='/camera/depth/image_rect_raw',
                       camera_info='/camera/depth/camera_info')
    assert len(list(read_rosbag(bag, topics))) == len(frames)
    with pytest.raises(GeodeError, match='not in bag'):
        list(read_rosbag(bag, BagTopics(depth='/nope')))
    with pytest.raises(GeodeError, match='not found'):
        list(read_rosbag(tmp_path / 'missing'))
    assert list(read_rosbag(bag, fixed_frame='elsewhere')) == []  # no TF chain: skipped


def test_tf_buffer_interpolates():
    tf = TfBuffer(tolerance_s=0.5)
    tf.add('map', 'base', pose_to_matrix([0, 0, 0], [0, 0, 0, 1]), 0.0, False)
    tf.add('map', 'base', pose_to_matrix([2, 0, 0], [0, 0, 0, 1]), 1.0, False)
    tf.add('base', 'cam', pose_to_matrix([0, 1, 0], [0, 0, 0, 1]), 0.0, True)
    T = tf.lookup('map', 'cam', 0.25)
    assert np.allclose(T[:3, 3], [0.5, 1, 0])
    assert tf.lookup('map', 'cam', 5.0) is None
    assert np.allclose(tf.lookup('cam', 'map', 0.0)[:3, 3], [0, -1, 0])
