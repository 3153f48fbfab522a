"""Fuzz over real DDS: >= 10,000 malformed messages on every input topic of a node process.

The node (geometric baseline, pose topic, PointCloud2 input) first sees valid RGB-D
frames of the box room and answers the room-size question. Then malformed messages
(``fuzz_msgs``) go to rgb, depth, camera_info, pose and points, with a query every
1,000 messages. Asserted: the node stays alive; every answer equals the one before
the fuzz; nothing entered scene memory; no Python traceback or numpy warning in its
log; at most one warning line per ``log_throttle`` second for each skip reason and error
kind the node counted (throttling);
resident memory grows by less than ``RSS_GROWTH_MIB``.
"""

from __future__ import annotations

import math
import random
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('geode_ros.srv')
import fuzz_msgs as fz  # noqa: E402
import ros_room as room  # noqa: E402
from dds_util import WAIT, Peer, node_process, sensor_qos  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, PointCloud2  # noqa: E402

from geode_ros.cli.common import interrupt_process  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(300)]

QUESTION = 'What is the size of this room (in square meters)?'
TOPICS = {'rgb': 'fuzz/rgb', 'depth': 'fuzz/depth', 'camera_info': 'fuzz/info',
          'pose': 'fuzz/pose', 'points': 'fuzz/points'}
TYPES = {'rgb': Image, 'depth': Image, 'camera_info': CameraInfo, 'pose': PoseStamped,
         'points': PointCloud2}
N_MESSAGES = 10_500
QUERY_EVERY = 1_000
THROTTLE_S = 1.0
RSS_GROWTH_MIB = 64


def _rss_mib(pid: int) -> float:
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return math.nan


class Client(Peer):
    def __init__(self) -> None:
        super().__init__('geode_fuzzer')
        qos = sensor_qos('reliable', 50)
        self.pubs = {k: self.node.create_publisher(TYPES[k], t, qos) for k, t in TOPICS.items()}

    def wait_settled(self) -> dict:
        """Status once frames_ingested has not changed for 2 s."""
        last, since, deadline = None, time.monotonic(), time.monotonic() + WAIT
        while time.monotonic() < deadline:
            n = self.status.get('frames_ingested')
            if n != last:
                last, since = n, time.monotonic()
            elif n and time.monotonic() - since > 2.0:
                return dict(self.status)
            time.sleep(0.1)
        pytest.fail(f'ingest never settled: {self.status}')


def test_fuzz_every_input_topic(tmp_path):
    log_path = tmp_path / 'node.log'
    params = {'pose_source': 'topic', 'status_period': 0.25, 'pose_max_age': 1e6,
              'log_throttle': THROTTLE_S, 'qos_reliability': 'reliable', 'qos_depth': 50,
              'cloud_period': 0.0}
    with node_process(params, TOPICS, log_path) as proc:
        _fuzz(proc, log_path)


def _fuzz(proc, log_path) -> None:
    cli = Client()
    try:
        cli.wait_subscribed(cli.pubs)
        # Valid frames: poses first, then the synchronised RGB-D sets.
        poses = [(room.camera_pose(math.radians(30 * k)), 100.0 + 0.1 * k) for k in range(12)]
        for T, s in poses:
            cli.pubs['pose'].publish(fz.valid_pose(T, s))
        time.sleep(0.5)
        for T, s in poses:
            for key, msg in zip(('rgb', 'depth', 'camera_info'), fz.valid_set(T, s)):
                cli.pubs[key].publish(msg)
            time.sleep(0.1)
        before = cli.wait_settled()
        ref = cli.query(QUESTION)
        assert ref.success, ref.message
        assert 14.0 < ref.values[0] < 26.0
        rss0 = _rss_mib(proc.pid)

        rng = random.Random(0)
        sent, t0, answers = 0, time.monotonic(), 0
        counts = {k: 0 for k in TOPICS}
        while sent < N_MESSAGES:
            s = 102.0 + 0.2 * sent  # sets 0.2 s apart: the sync (slop 0.05) never mixes two
            kind = rng.random()
            if kind < 0.6:  # an RGB-D set with at least one bad part
                T = poses[rng.randrange(len(poses))][0]
                parts = dict(zip(('rgb', 'depth', 'camera_info'), fz.valid_set(T, s)))
                for bad in rng.sample(sorted(parts), rng.randint(1, 3)):
                    parts[bad] = {'rgb': fz.bad_rgb, 'depth': fz.bad_depth,
                                  'camera_info': fz.bad_info}[bad](rng, s)
                out = list(parts.items())
            elif kind < 0.8:
                out = [('pose', fz.bad_pose(rng, s))]
            else:
                out = [('points', fz.bad_cloud(rng, s))]
            for key, msg in out:
                cli.pubs[key].publish(msg)
                counts[key] += 1
                sent += 1
                if sent % 50 == 0:
                    time.sleep(0.01)  # let the node keep up, as a camera would
                if sent % QUERY_EVERY == 0:
                    reply = cli.query(QUESTION)
                    assert reply.success, reply.message
                    assert reply.answer == ref.answer and list(reply.values) == pytest.approx(
                        list(ref.values), rel=1e-9), f'answer changed after {sent} messages'
                    answers += 1
                    assert proc.poll() is None, 'node died'
        elapsed = time.monotonic() - t0
        time.sleep(1.0)
        after = dict(cli.status)
        final = cli.query(QUESTION)
        rss1 = _rss_mib(proc.pid)
        assert proc.poll() is None, 'node died'
        assert final.success and final.answer == ref.answer
        assert answers == N_MESSAGES // QUERY_EVERY
        assert min(counts.values()) > 500, counts  # every topic fuzzed
        # Nothing of the fuzz entered memory.
        for key in ('frames_ingested', 'clouds_ingested', 'keyframes', 'points', 'stamp'):
            assert after[key] == before[key], (key, before[key], after[key])
        assert rss1 - rss0 < RSS_GROWTH_MIB, (rss0, rss1)
        node = after['node']
        received = sum(v for k, v in node.items() if k.startswith('received_'))
        rejected = sum(v for k, v in node.items() if k.startswith('rejected_'))
        print(f'fuzz: {sent} malformed messages in {elapsed:.1f} s ({counts}); node received '
              f'{received}, rejected {rejected} with reasons '
              f'{ {k: v for k, v in node.items() if k.startswith("rejected_")} }; '
              f'RSS {rss0:.0f} -> {rss1:.0f} MiB')
        assert rejected > 1000
    finally:
        cli.close()
        interrupt_process(proc)
    text = log_path.read_text()
    assert proc.returncode == 0, text[-2000:]
    assert 'Traceback' not in text and 'RuntimeWarning' not in text, text[-4000:]
    warns = sum('[WARN]' in line for line in text.splitlines())
    # one throttled warning stream per skip reason and per error kind (the node's counters)
    kinds = len(node['skipped']) + sum(k.startswith('errors_') for k in node)
    bound = kinds * (elapsed / THROTTLE_S + 2)
    print(f'fuzz: {warns} warning lines in the node log (bound {bound:.0f})')
    assert warns <= bound
