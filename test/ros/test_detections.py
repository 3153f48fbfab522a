"""``geode/detections`` as vision_msgs/Detection3DArray: the conversion, and a node without
vision_msgs (it says so once and goes on without the topic).

Over DDS with the shipped model: test_ros_node_model_scene.py.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('geode_ros.srv')
pytest.importorskip('vision_msgs.msg', reason='vision_msgs comes with the ros2-cli kit')
from test_ros_node_unit import OK, _ask, _room_cloud  # noqa: E402

from geode_ros.ros.conversions import cloud_to_msg, make_header  # noqa: E402
from geode_ros.ros.detections import MISSING, boxes_to_detections  # noqa: E402
from geode_ros.scene.geometry import (  # noqa: E402
    axis_vector,
    invert_transform,
    rotation_to_z_up,
)
from geode_ros.scene.types import Box3D  # noqa: E402

pytestmark = [pytest.mark.ros]


def test_one_detection_per_box_with_label_score_pose_and_size():
    boxes = [Box3D('chair', np.array([1.0, 2.0, 0.5]), np.array([0.5, 0.6, 0.9]),
                   np.pi / 2, 0.8),
             Box3D('table', np.array([-1.0, 0.0, 0.4]), np.array([1.2, 0.8, 0.75]), 0.0, 0.6)]
    out = boxes_to_detections(boxes, make_header('map', 12.5))
    assert out.header.frame_id == 'map' and out.header.stamp.sec == 12
    assert [d.id for d in out.detections] == ['0', '1']
    chair = out.detections[0]
    assert chair.header == out.header
    (hyp,) = chair.results
    assert hyp.hypothesis.class_id == 'chair' and hyp.hypothesis.score == pytest.approx(0.8)
    assert hyp.pose.pose == chair.bbox.center
    c = chair.bbox.center
    assert (c.position.x, c.position.y, c.position.z) == pytest.approx((1.0, 2.0, 0.5))
    q = c.orientation  # yaw 90 degrees about z
    assert (q.x, q.y, q.z, q.w) == pytest.approx((0.0, 0.0, np.sqrt(0.5), np.sqrt(0.5)))
    assert (chair.bbox.size.x, chair.bbox.size.y, chair.bbox.size.z) == pytest.approx(
        (0.5, 0.6, 0.9))
    assert out.detections[1].results[0].hypothesis.class_id == 'table'


def test_boxes_are_moved_into_the_header_frame():
    """A y-down fixed frame (world_up -y): a z-up box centre comes back in that frame."""
    T = invert_transform(rotation_to_z_up(axis_vector('-y')))  # fixed frame <- z-up memory
    box = Box3D('shelf', np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.4, 1.8]), 0.0, 0.9)
    (det,) = boxes_to_detections([box], make_header('slam_map', 1.0), T).detections
    p = det.bbox.center.position
    assert (p.x, p.y, p.z) == pytest.approx(tuple(T[:3, :3] @ [0.0, 0.0, 1.0]), abs=1e-9)
    assert (p.x, p.y, p.z) == pytest.approx((0.0, -1.0, 0.0), abs=1e-9)  # up is -y there


def test_without_vision_msgs_the_node_says_so_once_and_answers(make_node, monkeypatch,
                                                                 capfd):
    for name in [m for m in sys.modules if m.split('.')[0] == 'vision_msgs']:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, 'vision_msgs', None)  # import vision_msgs: ImportError
    node = make_node(pose_source='topic', **{'topics.points': 'cloud'})
    for _ in range(2):  # activate twice: the warning comes once
        assert node.trigger_configure() == OK and node.trigger_activate() == OK
        assert node._detections is None
        assert node.trigger_deactivate() == OK and node.trigger_cleanup() == OK
    assert capfd.readouterr().err.count(MISSING) == 1
    assert node.trigger_configure() == OK and node.trigger_activate() == OK
    node._pipeline.on_points(cloud_to_msg(_room_cloud(), None, make_header('map', 1.0)))
    assert node._pipeline.worker.wait_idle()
    reply = _ask(node)
    assert reply.success, reply.message
    topics = dict(node.get_topic_names_and_types())
    assert '/geode/detections' not in topics and '/geode/markers' in topics
