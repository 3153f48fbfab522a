"""Pure message <-> numpy/our-type conversions and marker building (no node, no spinning)."""

import math

import numpy as np
import pytest

pytest.importorskip('rclpy')
from geometry_msgs.msg import PoseStamped, TransformStamped  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from geode_ros.data.mcap_out import PALETTE  # noqa: E402
from geode_ros.errors import GeodeError  # noqa: E402
from geode_ros.ros import conversions as conv  # noqa: E402
from geode_ros.ros.markers import boxes_to_markers, duration_msg, label_color  # noqa: E402
from geode_ros.scene.geometry import pose_to_matrix, yaw_to_quat_xyzw  # noqa: E402
from geode_ros.scene.image_codec import encode_image  # noqa: E402
from geode_ros.scene.types import Answer, Box3D  # noqa: E402


def _image(array, encoding, stamp=1.5, frame='cam'):
    return Image(header=conv.make_header(frame, stamp), **encode_image(array, encoding))


def _info(w=8, h=6, f=5.0):
    return CameraInfo(width=w, height=h, k=[f, 0.0, w / 2, 0.0, f, h / 2, 0.0, 0.0, 1.0])


def test_stamp_round_trip_and_header():
    t = conv.sec_to_stamp(12.345678901)
    assert (t.sec, t.nanosec) == (12, 345678901)
    assert conv.stamp_to_sec(t) == pytest.approx(12.345678901, abs=1e-9)
    h = conv.make_header('map', 3.25)
    assert h.frame_id == 'map' and conv.stamp_to_sec(h.stamp) == 3.25


def test_pose_and_transform_messages_round_trip():
    T = pose_to_matrix([1.0, -2.0, 0.5], yaw_to_quat_xyzw(0.7))
    ps = PoseStamped()
    ps.pose = conv.matrix_to_pose_msg(T)
    np.testing.assert_allclose(conv.pose_msg_to_matrix(ps), T, atol=1e-12)
    ts = TransformStamped()
    ts.transform = conv.matrix_to_transform_msg(T)
    np.testing.assert_allclose(conv.transform_msg_to_matrix(ts), T, atol=1e-12)


def test_zero_quaternion_pose_is_a_geode_error():
    msg = PoseStamped()
    msg.pose.orientation.w = 0.0
    with pytest.raises(GeodeError, match='zero norm'):
        conv.pose_msg_to_matrix(msg)
    msg.pose.orientation.w, msg.pose.position.x = 1.0, float('nan')
    with pytest.raises(GeodeError, match='finite'):
        conv.pose_msg_to_matrix(msg)


def test_rgbd_from_messages():
    rgb = np.random.default_rng(0).integers(0, 255, (6, 8, 3), dtype=np.uint8)
    depth_mm = np.full((6, 8), 1500, np.uint16)
    out_rgb, depth, intr = conv.rgbd_from_msgs(_image(rgb, 'bgr8'), _image(depth_mm, '16UC1'),
                                               _info(), 0.001)
    np.testing.assert_array_equal(out_rgb, rgb)
    assert depth.dtype == np.float32 and np.allclose(depth, 1.5)
    assert (intr.fx, intr.cx, intr.width, intr.height) == (5.0, 4.0, 8, 6)


def test_rgbd_size_mismatch_explains_the_fix():
    rgb = np.zeros((6, 8, 3), np.uint8)
    with pytest.raises(GeodeError, match='registered'):
        conv.rgbd_from_msgs(_image(rgb, 'rgb8'), _image(np.zeros((3, 4), np.float32), '32FC1'),
                            _info())
    with pytest.raises(GeodeError, match='CameraInfo'):
        conv.rgbd_from_msgs(_image(rgb, 'rgb8'), _image(np.zeros((6, 8), np.float32), '32FC1'),
                            _info(w=16, h=12))
    with pytest.raises(GeodeError):
        conv.rgbd_from_msgs(_image(rgb, 'rgb8'), _image(rgb, 'rgb8'), _info())


def test_cloud_round_trip_through_pointcloud2():
    xyz = np.random.default_rng(1).normal(size=(50, 3)).astype(np.float32)
    rgb = np.random.default_rng(2).integers(0, 255, (50, 3), dtype=np.uint8)
    msg = conv.cloud_to_msg(xyz, rgb, conv.make_header('map', 2.0))
    assert msg.header.frame_id == 'map' and msg.width * msg.height == 50
    back_xyz, back_rgb = conv.cloud_from_msg(msg)
    np.testing.assert_allclose(back_xyz, xyz)
    np.testing.assert_array_equal(back_rgb, rgb)


def test_box_round_trip_and_target_frame():
    box = Box3D('chair', np.array([1.0, 2.0, 0.4]), np.array([0.5, 0.6, 0.8]), yaw=0.3, score=0.9)
    back = conv.box_from_msg(conv.box_to_msg(box))
    assert back.label == 'chair' and back.score == pytest.approx(0.9)
    np.testing.assert_allclose(back.center, box.center)
    np.testing.assert_allclose(back.size, box.size)
    assert back.yaw == pytest.approx(0.3)
    # Re-expressed in a frame rotated by 90 deg about z and shifted by (1, 0, 0).
    T_target_map = pose_to_matrix([1.0, 0.0, 0.0], yaw_to_quat_xyzw(math.pi / 2))
    moved = conv.box_from_msg(conv.box_to_msg(box, T_target_map))
    np.testing.assert_allclose(moved.center, [1.0 - 2.0, 1.0, 0.4], atol=1e-9)
    assert moved.yaw == pytest.approx(0.3 + math.pi / 2)


def test_query_responses():
    from geode_ros.srv import SpatialQuery

    from geode_ros.ros.query import fail_query_response, fill_query_response

    answer = Answer('The room is about 20.0 square meters.', [20.0],
                    [Box3D('room', np.zeros(3), np.ones(3))], frame_id='map', stamp=4.5,
                    units=['m2'], program={'program': 'room_area()', 'kind': 'room_area'})
    r = fill_query_response(SpatialQuery.Response(), answer, 'map')
    assert r.success and r.message == '' and list(r.values) == [20.0]
    assert list(r.units) == ['m2'] and r.program == 'room_area()' and r.status == 'ok'
    assert r.header.frame_id == 'map' and conv.stamp_to_sec(r.header.stamp) == 4.5
    assert len(r.boxes) == 1 and r.boxes[0].label == 'room'
    f = fail_query_response(r, 'scene memory is empty', 'odom')
    assert not f.success and f.message == 'scene memory is empty'
    assert f.boxes == [] and len(f.values) == 0 and f.header.frame_id == 'odom'


def test_markers_deleteall_then_cube_and_label_per_box():
    boxes = [Box3D('chair', np.array([1.0, 0.0, 0.5]), np.array([0.4, 0.4, 1.0]), yaw=0.5),
             Box3D('table', np.array([0.0, 2.0, 0.4]), np.array([1.2, 0.8, 0.8]), score=0.75)]
    header = conv.make_header('map', 7.0)
    arr = boxes_to_markers(boxes, header, lifetime=2.5)
    kinds = [(m.action, m.type) for m in arr.markers]
    assert kinds[0][0] == Marker.DELETEALL
    assert kinds[1:] == [(Marker.ADD, Marker.CUBE), (Marker.ADD, Marker.TEXT_VIEW_FACING)] * 2
    assert all(m.header.frame_id == 'map' and m.header.stamp.sec == 7 for m in arr.markers)
    cube, text = arr.markers[1], arr.markers[2]
    assert (cube.scale.x, cube.scale.y, cube.scale.z) == (0.4, 0.4, 1.0)
    assert cube.pose.orientation.z == pytest.approx(math.sin(0.25))
    assert text.text == 'chair' and text.pose.position.z > 1.0
    assert arr.markers[4].text == 'table 0.75'
    assert cube.lifetime.sec == 2 and cube.lifetime.nanosec == 500_000_000
    assert len({m.id for m in arr.markers[1:]}) == 4


def test_label_colour_is_stable_and_from_the_palette():
    a, b = label_color('chair'), label_color('chair')
    assert (a.r, a.g, a.b) == (b.r, b.g, b.b) and (a.r, a.g, a.b) in PALETTE
    colours = {(label_color(n).r, label_color(n).g) for n in ('chair', 'table', 'door', 'mug')}
    assert len(colours) > 1
    assert duration_msg(0).sec == 0 and duration_msg(-3).nanosec == 0


def test_no_boxes_still_clears_old_markers():
    arr = boxes_to_markers([], conv.make_header('map', 0.0))
    assert [m.action for m in arr.markers] == [Marker.DELETEALL]


def test_markers_are_moved_into_the_header_frame():
    """T_frame_src: boxes of z-up scene memory drawn in a y-down fixed frame (world_up)."""
    from geode_ros.scene.geometry import axis_vector, invert_transform, rotation_to_z_up

    to_fixed = invert_transform(rotation_to_z_up(axis_vector('-y')))
    box = Box3D('chair', np.array([1.0, 2.0, 0.5]), np.array([0.4, 0.4, 1.0]), yaw=0.3)
    cube, text = boxes_to_markers([box], conv.make_header('map', 0.0),
                                  T_frame_src=to_fixed).markers[1:]
    centre = [cube.pose.position.x, cube.pose.position.y, cube.pose.position.z]
    assert np.allclose(centre, to_fixed[:3, :3] @ box.center, atol=1e-9)
    R = conv.pose_msg_to_matrix(cube.pose)[:3, :3]
    assert np.allclose(R @ [0.0, 0.0, 1.0], [0.0, -1.0, 0.0], atol=1e-9)  # box up = -y
    label = np.array([text.pose.position.x, text.pose.position.y, text.pose.position.z])
    assert (label - centre)[1] < -0.5  # above the box: along -y in that frame
