"""Sensor QoS over real DDS: any driver is received with no parameter, and a node that
receives nothing says why in the service reply.

With ``qos_reliability: auto`` (the default) the node subscribes reliable while every
publisher offers reliable and best effort when one offers best effort; a publisher that
appears later is matched within ``qos_check_period``. A node forced to ``reliable`` never
hears a best-effort camera, and its empty-memory reply names the topics and the QoS.
"""

from __future__ import annotations

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('geode_ros.srv')
from dds_util import ROOM_QUESTION, Camera, node_process, wait_until  # noqa: E402

from geode_ros.ros.diagnose import why_no_frames  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(240)]

TOPICS = {'rgb': 'qos_cam/rgb', 'depth': 'qos_cam/depth', 'camera_info': 'qos_cam/info',
          'pose': 'qos_cam/pose'}
PARAMS = {'model': 'none', 'pose_source': 'topic', 'status_period': 0.25, 'sync_slop': 0.02,
          'pose_max_age': 0.05, 'cloud_period': 0.0, 'qos_check_period': 0.5}


def _camera(reliability: str) -> Camera:
    cam = Camera(TOPICS, reliability=reliability)
    try:
        cam.wait_connected()  # only a matching subscription counts as subscribed
    except BaseException:
        cam.close()  # a publisher left behind would confuse the next test's node
        raise
    return cam


def _inputs(cam: Camera) -> dict:
    return cam.wait_status(lambda s: 'inputs' in s)['inputs']


def test_default_node_receives_reliable_then_best_effort_publishers():
    with node_process(PARAMS, TOPICS):
        cam = _camera('reliable')
        try:
            cam.turn()
            inputs = _inputs(cam)
            assert {inputs[k]['reliability'] for k in TOPICS} == {'reliable'}, inputs
            reply = cam.query(ROOM_QUESTION)
            assert reply.success and 14.0 < reply.values[0] < 26.0, reply.message
            fused = cam.status['node']['fused']
            assert fused >= 15, cam.status['node']
        finally:
            cam.close()
        cam = _camera('best_effort')  # a sensor-data driver appears: matched, then received
        try:
            cam.stamp = 200.0
            cam.turn()
            inputs = _inputs(cam)
            assert {inputs[k]['reliability'] for k in TOPICS} == {'best_effort'}, inputs
            assert all(inputs[k]['switches'] >= 1 for k in TOPICS), inputs
            assert cam.status['node']['fused'] >= fused + 15, cam.status['node']
            reply = cam.query(ROOM_QUESTION)
            assert reply.success, reply.message
        finally:
            cam.close()


def test_reply_names_missing_publishers_and_qos_mismatch():
    with node_process({**PARAMS, 'qos_reliability': 'reliable'}, TOPICS):
        cam = Camera({k: f'other_{t}' for k, t in TOPICS.items()})  # publishes elsewhere
        try:
            reply = wait_until(lambda: (r := cam.query(ROOM_QUESTION)).message
                               and 'no publisher' in r.message and r, what='the reply')
            assert not reply.success
            for name, topic in TOPICS.items():
                assert f'/{topic} ({name})' in reply.message, reply.message
        finally:
            cam.close()
        cam = Camera(TOPICS, reliability='best_effort')
        try:
            for k in range(5):
                cam.publish_frame(0.3 * k)
            def explained():  # once the node has seen the publishers (qos_check_period)
                r = cam.query(ROOM_QUESTION)
                return 'incompatible QoS' in r.message and 'no publisher' not in r.message and r

            reply = wait_until(explained, what='the QoS mismatch in the reply')
            assert not reply.success
            assert f"/{TOPICS['rgb']} (rgb: publisher offers best_effort, subscribed " \
                   'reliable)' in reply.message, reply.message
            assert 'qos_reliability:=auto' in reply.message
        finally:
            cam.close()


def test_reply_names_frames_without_a_pose():
    with node_process({**PARAMS, 'pose_wait': 0.2}, TOPICS):
        cam = _camera('reliable')
        cam.poses = False  # images, but the pose publisher stays silent
        try:
            for k in range(5):
                cam.publish_frame(0.3 * k)
            cam.wait_status(lambda s: s['node']['skipped'].get('no_pose', 0) >= 5)
            reply = cam.query(ROOM_QUESTION)
            assert not reply.success
            assert f"frame set(s) had no camera pose from pose topic /{TOPICS['pose']}" \
                in reply.message, reply.message
        finally:
            cam.close()


def test_why_no_frames_orders_the_causes():
    inputs = {'rgb': {'topic': '/c/rgb', 'reliability': 'reliable', 'publishers': 1,
                      'offered': ['best_effort'], 'incompatible': 1, 'switches': 0},
              'depth': {'topic': '/c/depth', 'reliability': 'best_effort', 'publishers': 0,
                        'offered': [], 'incompatible': 0, 'switches': 0}}
    counts = {'received_rgb': 0, 'received_depth': 0, 'skipped': {'no_pose': 2, 'bad': 1},
              'rejected_depth_invalid': 3, 'lost_rgb': 4}
    text = why_no_frames(counts, inputs, 'topic', 'map')
    assert text.index('incompatible QoS on /c/rgb') < text.index('no publisher on /c/depth')
    assert '2 frame set(s) had no camera pose from TF (map -> camera frame)' in text
    assert 'skipped bad=1' in text and 'rejected depth_invalid=3' in text
    assert 'lost in transport rgb=4' in text
    assert why_no_frames({'skipped': {}}, {}, 'tf_tree', 'map') == \
        'nothing received yet (pose source tf_tree)'
