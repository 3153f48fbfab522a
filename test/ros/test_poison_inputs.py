"""Finite but absurd inputs (issue 15) are rejected with a reason and leave memory untouched.

Each poison message is fed to a real ``GeodeNode`` (callbacks called in this process,
real ROS messages) between the same valid frames; afterwards every answer equals the
answer of a node that never saw the poison.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('geode_ros.srv')
import ros_room as room  # noqa: E402
from geode_ros.srv import SpatialQuery  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField  # noqa: E402

from geode_ros.errors import InputRejected  # noqa: E402
from geode_ros.ros.conversions import (  # noqa: E402
    cloud_to_msg,
    make_header,
    matrix_to_pose_msg,
    transform_msg_to_matrix,
)
from geode_ros.scene.image_codec import encode_image  # noqa: E402

QUESTION = 'What is the size of this room (in square meters)?'
CAM = 'cam'
N_FRAMES = 12


def _pose_msg(T, stamp, quat=None, translation=None):
    msg = PoseStamped(header=make_header('map', stamp), pose=matrix_to_pose_msg(T))
    if quat is not None:
        o = msg.pose.orientation
        o.x, o.y, o.z, o.w = quat
    if translation is not None:
        p = msg.pose.position
        p.x, p.y, p.z = translation
    return msg


def _info(stamp, fx=room.FOCAL, cx=room.WIDTH / 2):
    return CameraInfo(header=make_header(CAM, stamp), width=room.WIDTH, height=room.HEIGHT,
                      distortion_model='plumb_bob',
                      k=[fx, 0.0, cx, 0.0, fx, room.HEIGHT / 2, 0.0, 0.0, 1.0])


def _images(T, stamp, depth=None):
    depth = room.render_depth(T) if depth is None else depth
    header = make_header(CAM, stamp)
    rgb = Image(header=header, **encode_image(room.render_rgb(np.nan_to_num(depth)), 'rgb8'))
    return rgb, Image(header=header, **encode_image(depth.astype(np.float32), '32FC1'))


def _frame(node, k):
    stamp = 1.0 + 0.1 * k
    T = room.camera_pose(np.radians(30 * k))
    node._on_pose(_pose_msg(T, stamp))
    node._pipeline.on_rgbd(*_images(T, stamp), _info(stamp))


def _cloud_msg(stamp, fields, point_step, data, width=1):
    msg = PointCloud2(header=make_header('map', stamp), height=1, width=width,
                      point_step=point_step, row_step=point_step * width, is_dense=False)
    msg.fields = fields
    msg.data = data
    return msg


def _poisons():
    """name -> (callback feeding one poison at stamp s into the node, expected reason)."""
    far = time.time() + 10 * 365 * 86400.0
    T0 = room.camera_pose(0.3)

    def rgbd_with(info=None, T=None, depth=None):
        def feed(node, s):
            node._on_pose(_pose_msg(T0 if T is None else T, s))
            node._pipeline.on_rgbd(*_images(T0, s, depth), info or _info(s))
        return feed

    huge_count = [PointField(name='x', offset=0, datatype=7, count=2**31)]
    far_xyz = np.full((4, 3), 1e30, np.float32)
    return {
        'pose translation 1e30': (lambda n, s: n._on_pose(
            _pose_msg(T0, s, translation=(1e30, 0.0, 0.0))), 'pose_translation'),
        'pose quaternion 1e200': (lambda n, s: n._on_pose(
            _pose_msg(T0, s, quat=(1e200,) * 4)), 'pose_quaternion'),
        'pose quaternion norm 2': (lambda n, s: n._on_pose(
            _pose_msg(T0, s, quat=(0.0, 0.0, 0.0, 2.0))), 'pose_quaternion'),
        'pose stamped 2**31-1': (lambda n, s: n._on_pose(
            _pose_msg(T0, 2**31 - 1)), 'stamp_future'),
        'CameraInfo fx=fy=1e-300': (rgbd_with(info=_info(0.0, fx=1e-300)), 'intrinsics'),
        'CameraInfo cx=1e300': (rgbd_with(info=_info(0.0, cx=1e300)), 'intrinsics'),
        'depth all NaN': (rgbd_with(depth=np.full((room.HEIGHT, room.WIDTH), np.nan,
                                                  np.float32)), 'depth_invalid'),
        'images stamped far ahead': (lambda n, s: rgbd_with()(n, far), 'stamp_future'),
        'PointCloud2 count 2**31': (lambda n, s: n._pipeline.on_points(_cloud_msg(
            s, huge_count, 16, b'\0' * 16)), 'cloud_malformed'),
        'PointCloud2 at 1e30 m': (lambda n, s: n._pipeline.on_points(
            cloud_to_msg(far_xyz, None, make_header('map', s))), 'points_range'),
    }


@pytest.fixture()
def active_node(make_node):
    """``make()``: an active node with the shipped model, poses from a topic, a cloud input."""
    def make():
        node = make_node(model='geode-tiny', pose_source='topic', pose_max_age=0.02,
                         **{'topics.points': 'cloud'})
        assert node.trigger_configure().name == 'SUCCESS'
        assert node.trigger_activate().name == 'SUCCESS'
        return node

    return make


def _answer(node):
    assert node._pipeline.worker.wait_idle()  # the ingest thread has taken every frame
    r = node._on_query(SpatialQuery.Request(question=QUESTION), SpatialQuery.Response())
    assert r.success, r.message
    return r.answer, list(r.values), r.header.stamp.sec


def test_each_poison_is_rejected_and_answers_stay_the_same(active_node):
    clean = active_node()
    for k in range(N_FRAMES):
        _frame(clean, k)
    want = _answer(clean)
    assert 14.0 < want[1][0] < 26.0  # the 4 m x 5 m room
    for name, (feed, reason) in _poisons().items():
        node = active_node()
        for k in range(N_FRAMES):
            if k == N_FRAMES // 2:
                t0 = time.perf_counter()
                feed(node, 1.0 + 0.1 * k - 0.05)  # between two valid frames
                assert time.perf_counter() - t0 < 1.0, f'{name} took too long to reject'
            _frame(node, k)
        got = _answer(node)
        assert got[1] == pytest.approx(want[1], rel=1e-6), name
        assert got[0] == want[0] and got[2] == want[2], name
        counts = node.status()['node']
        assert counts.get(f'rejected_{reason}', 0) >= 1, (name, counts)


def test_tf_transforms_are_bounded_too():
    from geometry_msgs.msg import TransformStamped

    msg = TransformStamped(header=make_header('map', 1.0), child_frame_id=CAM)
    msg.transform.rotation.w = 1.0
    assert transform_msg_to_matrix(msg)[0, 3] == 0.0
    msg.transform.translation.x = 1e30
    with pytest.raises(InputRejected) as exc:
        transform_msg_to_matrix(msg)
    assert exc.value.reason == 'pose_translation'
    msg.transform.translation.x = 1.0
    msg.transform.rotation.x = msg.transform.rotation.y = 1e200
    with pytest.raises(InputRejected, match='quaternion'):
        transform_msg_to_matrix(msg)
