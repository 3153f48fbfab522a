"""One recording, two ways: played over DDS to a geode_node, and through geode-replay.

Both run with their defaults (the shipped model, ``SceneConfig`` fusion), so they must
fuse the same frames into the same cloud and give the same answers. The recording is a
held-out synthetic scene (test seeds, 200000 on) walked in 160 frames, so the camera
moves less than the keyframe thresholds between most of them: a tool that fused
keyframes only would build another cloud (62,546 voxels instead of 80,555 when this
was written) than the node, which fuses every frame.
"""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('geode_ros.srv')
from dds_util import WAIT, Peer, node_process, sensor_qos  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from rclpy.serialization import deserialize_message  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from geode_ros.cli import replay  # noqa: E402
from geode_ros.data.frames import FramesFolder  # noqa: E402
from geode_ros.data.rosbag_reader import write_rgbd_bag  # noqa: E402
from geode_ros.data.synth import SynthConfig, generate_scene  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(420)]

TEST_SEED, FRAMES = 200003, 160
TOPICS = {'rgb': '/camera/color/image_raw', 'depth': '/camera/depth/image_rect_raw',
          'camera_info': '/camera/depth/camera_info', 'pose': '/camera/pose'}
TYPES = {'sensor_msgs/msg/Image': Image, 'sensor_msgs/msg/CameraInfo': CameraInfo,
         'geometry_msgs/msg/PoseStamped': PoseStamped}
NUMBER = re.compile(r'-?\d+(?:\.\d+)?')


@pytest.fixture(scope='module')
def recording(tmp_path_factory):
    """(bag path, questions file, question texts) of one held-out scene."""
    root = tmp_path_factory.mktemp('recording')
    cfg = SynthConfig(seed=TEST_SEED, out=str(root), frames=FRAMES, questions_per_scene=10)
    records = generate_scene(0, cfg)
    frames = list(FramesFolder(root / 'scenes' / '000000'))
    bag = write_rgbd_bag(frames, root / 'bag', pose_source='pose')
    questions = root / 'questions.jsonl'
    questions.write_text(''.join(json.dumps({'question': r['question'],
                                             'options': r['options']}) + '\n'
                                 for r in records))
    return bag, questions, [q.text for q in replay.load_questions(questions)]


def _play(bag, peer: Peer, pubs: dict) -> int:
    """Publish the bag's messages in order, a frame every 0.1 s; the number of frames."""
    from rosbags.highlevel import AnyReader

    by_topic = {t: k for k, t in TOPICS.items()}
    frames = 0
    with AnyReader([bag]) as reader:
        for conn, _, raw in reader.messages():
            pubs[by_topic[conn.topic]].publish(deserialize_message(raw, TYPES[conn.msgtype]))
            if by_topic[conn.topic] == 'depth':  # the last of a frame's messages
                frames += 1
                time.sleep(0.1)  # slower than the node fuses: no frame falls behind
    return frames


def _node_answers(bag, texts: list[str]) -> tuple[list, dict]:
    params = {'pose_source': 'topic', 'status_period': 0.25, 'cloud_period': 0.0}
    with node_process(params, TOPICS):
        peer = Peer('geode_replay_camera')
        try:
            qos = sensor_qos('reliable', 100)
            pubs = {k: peer.node.create_publisher(
                {'pose': PoseStamped, 'camera_info': CameraInfo}.get(k, Image), t, qos)
                for k, t in TOPICS.items()}
            peer.wait_subscribed(pubs)
            n = _play(bag, peer, pubs)
            status = peer.wait_status(lambda s: s['node']['synced'] >= n and s['node'][
                'fused'] + s['node']['skipped_total'] >= n, timeout=WAIT * 2)
            return [peer.query(t) for t in texts], status
        finally:
            peer.close()


def test_replay_gives_the_answers_the_node_gives_live(recording, tmp_path):
    bag, questions, texts = recording
    live, status = _node_answers(bag, texts)
    node = status['node']
    assert node['fused'] == FRAMES and node['skipped_total'] == 0, node
    assert node['keyframes'] < FRAMES / 2  # most frames are not keyframes: fusion matters

    out = tmp_path / 'replay'
    assert replay.main([str(bag), '--questions', str(questions), '--out', str(out),
                        '--rate', '0', '--pose-topic', TOPICS['pose'], '--quiet']) == 0
    offline = json.loads((out / 'answers.json').read_text())
    assert offline['model'] == 'geode-tiny' and offline['frames'] == FRAMES
    stats = offline['stats']
    assert (stats['points'], stats['keyframes']) == (status['points'], status['keyframes'])

    for reply, record in zip(live, offline['answers'], strict=True):
        q = record['question']
        assert reply.success == (record['error'] is None), (q, reply.message, record['error'])
        if not reply.success:
            assert reply.message.startswith(record['error'][:60]), (q, reply.message)
            continue
        # same text up to the last digit of a rendered number (thread counts differ)
        assert NUMBER.sub('#', reply.answer) == NUMBER.sub('#', record['answer']), q
        assert np.allclose(list(reply.values), record['values'], rtol=1e-3, atol=1e-4), q
        assert len(reply.boxes) == len(record['boxes']), q
        for box, want in zip(reply.boxes, record['boxes']):
            assert box.label == want['label'], q
            p = box.pose.position
            assert np.allclose([p.x, p.y, p.z], want['center'], atol=1e-3), q
            assert np.allclose([box.size.x, box.size.y, box.size.z], want['size'],
                               atol=1e-3), q
