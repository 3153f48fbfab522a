"""GeodeNode callbacks called directly in this process (no executor, no DDS round trips)."""

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('geode_ros.srv')
import ros_room as room  # noqa: E402
from geode_ros.srv import SpatialQuery  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from geode_ros.ros.conversions import cloud_to_msg, make_header, matrix_to_pose_msg  # noqa: E402
from geode_ros.scene.depth import depth_to_points  # noqa: E402
from geode_ros.scene.types import CameraIntrinsics  # noqa: E402

QUESTION = 'What is the size of this room (in square meters)?'
OK = TransitionCallbackReturn.SUCCESS


def _ask(node, question=QUESTION, target_frame=''):
    return node._on_query(SpatialQuery.Request(question=question, target_frame=target_frame),
                          SpatialQuery.Response())


def _room_cloud():
    intr = CameraIntrinsics(room.FOCAL, room.FOCAL, room.WIDTH / 2, room.HEIGHT / 2,
                            room.WIDTH, room.HEIGHT)
    parts = []
    for k in range(18):
        T = room.camera_pose(np.radians(20 * k))
        xyz, _ = depth_to_points(room.render_depth(T), intr, T, None, 0.1, 8.0, 2)
        parts.append(xyz)
    return np.concatenate(parts).astype(np.float32)


def test_not_active_reply(make_node):
    node = make_node(pose_source='topic')
    reply = _ask(node)
    assert not reply.success and 'not active' in reply.message


def test_point_cloud_input_in_the_fixed_frame(make_node):
    node = make_node(pose_source='topic', **{'topics.points': 'cloud'})
    assert node.trigger_configure() == OK and node.trigger_activate() == OK
    xyz = _room_cloud()
    node._pipeline.on_points(cloud_to_msg(xyz, None, make_header('map', 5.0)))
    assert node._pipeline.worker.wait_idle()
    reply = _ask(node)
    assert reply.success, reply.message
    assert 14.0 < reply.values[0] < 26.0
    counts = node.status()['node']
    assert counts['received_points'] == 1 and counts['fused'] == 1


def test_cloud_in_a_sensor_frame_needs_a_pose(make_node):
    node = make_node(pose_source='topic', use_rgbd=False, **{'topics.points': 'cloud'})
    assert node.trigger_configure() == OK and node.trigger_activate() == OK
    msg = cloud_to_msg(_room_cloud(), None, make_header('lidar', 5.0))
    node._pipeline.on_points(msg)  # no pose in pose_wait: skipped with a reason
    assert node._pipeline.worker.wait_idle()
    assert node.status()['node']['skipped'] == {'no_pose': 1}
    node._on_pose(PoseStamped(header=make_header('map', 5.0),
                              pose=matrix_to_pose_msg(np.eye(4))))
    node._pipeline.on_points(msg)
    assert node._pipeline.worker.wait_idle()
    assert _ask(node).success


def test_bad_messages_never_kill_the_node(make_node):
    node = make_node(pose_source='topic')
    assert node.trigger_configure() == OK and node.trigger_activate() == OK
    header = make_header('cam', 1.0)
    bad_rgb = Image(header=header, height=2, width=2, encoding='yuv422', step=4, data=b'\0' * 8)
    depth = Image(header=header, height=2, width=2, encoding='32FC1', step=8, data=b'\0' * 16)
    node._on_pose(PoseStamped(header=make_header('map', 1.0),
                              pose=matrix_to_pose_msg(np.eye(4))))
    node._pipeline.on_rgbd(bad_rgb, depth, CameraInfo(header=header))
    bad_pose = PoseStamped()
    bad_pose.pose.orientation.w = 0.0
    node._on_pose(bad_pose)
    node._pipeline.sync_input(0)(Image())  # a lone image waits in the synchroniser
    assert node._pipeline.worker.wait_idle()
    counts = node.status()['node']
    assert counts['skipped'] == {'rgb_malformed': 1} and counts['errors_pose'] == 1
    assert 'no frames yet' in _ask(node).message


def test_bad_parameters_fail_configure(make_node):
    node = make_node(qos_reliability='sometimes')
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert node.engine is None


def test_tf_pose_source_without_tf2_fails_activate_clearly(make_node):
    from geode_ros.ros.tf import have_module

    if have_module('tf2_ros') or have_module('tf2_msgs'):
        pytest.skip('tf2 is installed here')
    node = make_node(pose_source='tf')
    assert node.trigger_configure() == OK
    assert node.trigger_activate() == TransitionCallbackReturn.FAILURE
    assert node.trigger_cleanup() == OK and node.engine is None


def test_world_up_turns_a_y_down_map_z_up(make_node):
    """world_up:=-y: the room given in a y-down map is stored z-up and gives the z-up
    answer; what goes back out is turned into the map again (boxes: see
    test_markers_are_moved_into_the_header_frame)."""
    from geode_ros.scene.geometry import (
        axis_vector,
        invert_transform,
        rotation_to_z_up,
        transform_points,
    )

    to_y_down = invert_transform(rotation_to_z_up(axis_vector('-y')))
    replies, clouds = [], []
    for world_up, T in (('z', np.eye(4)), ('-y', to_y_down)):
        node = make_node(pose_source='topic', world_up=world_up, **{'topics.points': 'cloud'})
        assert node.trigger_configure() == OK and node.trigger_activate() == OK
        xyz = transform_points(T, _room_cloud()).astype(np.float32)
        node._pipeline.on_points(cloud_to_msg(xyz, None, make_header('map', 5.0)))
        assert node._pipeline.worker.wait_idle()
        replies.append(_ask(node))
        clouds.append(node.engine.snapshot().points)
        to_fixed = node._scene_to_fixed()
        assert (to_fixed is None) == (world_up == 'z')
    z_up, y_down = replies
    assert z_up.success and y_down.success, (z_up.message, y_down.message)
    assert y_down.values[0] == pytest.approx(z_up.values[0], rel=1e-2)
    assert y_down.header.frame_id == 'map' and 14.0 < z_up.values[0] < 26.0
    (a, b) = clouds
    assert np.allclose(a.min(0), b.min(0), atol=0.06) and np.allclose(a.max(0), b.max(0),
                                                                        atol=0.06)
    assert np.allclose(to_fixed, to_y_down)
