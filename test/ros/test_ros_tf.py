"""Pose sources without spinning: the in-process TF tree and the PoseStamped source."""

import math

import numpy as np
import pytest

pytest.importorskip('rclpy')
from geometry_msgs.msg import PoseStamped, TransformStamped  # noqa: E402

from geode_ros.errors import GeodeError  # noqa: E402
from geode_ros.ros.conversions import (  # noqa: E402
    make_header,
    matrix_to_pose_msg,
    matrix_to_transform_msg,
)
from geode_ros.ros.tf import TfTree, TopicPoseSource  # noqa: E402
from geode_ros.scene.geometry import compose, pose_to_matrix, yaw_to_quat_xyzw  # noqa: E402


def _T(x, yaw=0.0):
    return pose_to_matrix([x, 0.0, 0.0], yaw_to_quat_xyzw(yaw))


def _tf(parent, child, T, stamp=0.0):
    msg = TransformStamped(header=make_header(parent, stamp), child_frame_id=child)
    msg.transform = matrix_to_transform_msg(T)
    return msg


def _pose(frame, T, stamp):
    return PoseStamped(header=make_header(frame, stamp), pose=matrix_to_pose_msg(T))


def test_tf_tree_chains_static_and_dynamic_edges():
    tree = TfTree(max_age=0.1)
    tree.set_transform(_tf('map', 'odom', _T(1.0)), static=True)
    tree.set_transform(_tf('odom', 'base', _T(2.0, math.pi / 2), stamp=10.0))
    tree.set_transform(_tf('odom', 'base', _T(3.0, math.pi / 2), stamp=11.0))
    tree.set_transform(_tf('base', 'camera', _T(0.5)), static=True)
    expected = compose(_T(1.0), _T(2.0, math.pi / 2), _T(0.5))
    np.testing.assert_allclose(tree.lookup('map', 'camera', 10.0), expected, atol=1e-9)
    with pytest.raises(GeodeError, match='within'):  # one side only: never extrapolated
        tree.lookup('map', 'camera', 10.05)
    tree.max_age = 1.0  # both sides within max_age: interpolated
    between = compose(_T(1.0), _T(2.05, math.pi / 2), _T(0.5))
    np.testing.assert_allclose(tree.lookup('map', 'camera', 10.05), between, atol=1e-9)
    tree.max_age = 0.1
    latest = compose(_T(1.0), _T(3.0, math.pi / 2), _T(0.5))
    np.testing.assert_allclose(tree.lookup('map', 'camera'), latest, atol=1e-9)
    # Sibling lookups go through the common ancestor.
    np.testing.assert_allclose(tree.lookup('camera', 'camera'), np.eye(4))
    np.testing.assert_allclose(compose(tree.lookup('camera', 'map', 11.0), latest), np.eye(4),
                               atol=1e-9)
    assert tree.frames() == {'map', 'odom', 'base', 'camera'}


def test_tf_tree_errors_name_the_problem():
    tree = TfTree(max_age=0.1)
    tree.set_transform(_tf('map', 'camera', _T(1.0), stamp=5.0))
    tree.set_transform(_tf('world', 'other', _T(1.0)), static=True)
    with pytest.raises(GeodeError, match='unknown frame'):
        tree.lookup('map', 'nowhere')
    with pytest.raises(GeodeError, match='within'):
        tree.lookup('map', 'camera', 9.0)
    with pytest.raises(GeodeError, match='not connected'):
        tree.lookup('map', 'other')
    with pytest.raises(GeodeError):
        tree.set_transform(_tf('a', 'a', _T(0.0)))


def test_topic_pose_source_nearest_pose_and_frames():
    src = TopicPoseSource(max_age=0.05)
    with pytest.raises(GeodeError, match='no camera pose'):
        src.camera_pose('map', 'cam', 1.0)
    for k in range(5):
        src.add_pose(_pose('map', _T(float(k)), 1.0 + 0.1 * k))
    np.testing.assert_allclose(src.camera_pose('map', 'cam', 1.2)[:3, 3], [2.0, 0.0, 0.0],
                               atol=1e-9)
    with pytest.raises(GeodeError, match='within'):  # 1.3 is beyond max_age: no bracket
        src.camera_pose('map', 'cam', 1.21)
    src.max_age = 0.1
    np.testing.assert_allclose(src.camera_pose('map', 'cam', 1.21)[:3, 3], [2.1, 0.0, 0.0],
                               atol=1e-9)  # interpolated between 1.2 and 1.3
    src.max_age = 0.05
    with pytest.raises(GeodeError, match='within'):
        src.camera_pose('map', 'cam', 3.0)
    with pytest.raises(GeodeError, match='fixed frame'):
        src.camera_pose('odom', 'cam', 1.2)
    # Answers can be given in the camera frame seen so far (latest pose), or the fixed frame.
    np.testing.assert_allclose(src.transform('cam', 'map')[:3, 3], [-4.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(src.transform('map', 'map'), np.eye(4))
    with pytest.raises(GeodeError, match="unknown target_frame 'base_link'"):
        src.transform('base_link', 'map')


def test_topic_pose_source_accepts_out_of_order_poses():
    src = TopicPoseSource(max_age=0.01, history=3)
    for stamp in (2.0, 1.0, 3.0, 0.5):
        src.add_pose(_pose('map', _T(stamp), stamp))
    np.testing.assert_allclose(src.camera_pose('map', '', 2.0)[0, 3], 2.0)
    with pytest.raises(GeodeError):
        src.camera_pose('map', '', 0.5)  # fell out of the 3-pose history
