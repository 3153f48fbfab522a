"""``geode-bench live``: frames published vs received vs fused, over DDS, at camera rates.

This process publishes RGB + depth (16UC1) + CameraInfo + PoseStamped at each rate to
a ``geode_node`` it starts as a second process (its own ``ROS_DOMAIN_ID`` unless one is
set), once with reliable publishers and once with best-effort ones (a sensor-data
driver), then reads the node's ``geode/status`` counters: what DDS delivered (received),
what the node fused, and what it skipped and why. ``unaccounted`` = synced sets the
node neither fused nor skipped: it must be 0. ``--publisher-profile`` gives the
publishing side (only) a Fast DDS XML profile, as a camera driver would be started with.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from geode_ros.errors import GeodeError
from geode_ros.ros.params import RELIABILITIES, NodeConfig

TOPICS = {'rgb': 'bench/rgb', 'depth': 'bench/depth', 'camera_info': 'bench/camera_info',
          'pose': 'bench/pose'}
CAMERA_FRAME = 'camera_color_optical_frame'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``geode-bench live``."""
    parser.add_argument('--frames', type=Path, default=None,
                        help='frames folder / 7-Scenes / TUM sequence / bag to replay '
                             '(default: the synthetic room at --width x --height)')
    parser.add_argument('--intrinsics', type=Path, default=None,
                        help='intrinsics file for a 7-Scenes/TUM folder')
    parser.add_argument('--rates', type=float, nargs='+', default=[15.0, 30.0],
                        help='publish rates (Hz), one run each')
    parser.add_argument('--seconds', type=float, default=10.0, help='publishing time per rate')
    parser.add_argument('--views', type=int, default=120,
                        help='synthetic room: views in one turn, played forth and back (120: '
                             '3 degrees a frame, a keyframe every 5th frame; 24: every frame '
                             'is a keyframe, the model encodes each)')
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--qos', choices=RELIABILITIES, default=NodeConfig().qos_reliability,
                        help="the node's qos_reliability (default: the node's default)")
    parser.add_argument('--publisher-qos', nargs='+', choices=['reliable', 'best_effort'],
                        default=['reliable', 'best_effort'],
                        help='reliability of the camera publishers; one run of every rate each')
    parser.add_argument('--publisher-profile', type=Path, default=None,
                        help='Fast DDS XML profile for the publishing side only '
                             '(FASTRTPS_DEFAULT_PROFILES_FILE), e.g. '
                             'config/fastdds_large_frames.xml')
    parser.add_argument('--subscriber', choices=('node', 'bare'), default='node',
                        help='bare: a subscriber that only counts (geode_ros.cli.bench_bare) '
                             'instead of geode_node, to tell transport losses from the '
                             "node's")
    parser.add_argument('--model', default=NodeConfig().model,
                        help="the node's model (default: the node's default; none = baseline)")
    parser.add_argument('--param', action='append', default=[], metavar='NAME:=VALUE',
                        help='extra geode_node parameter (repeatable), e.g. pose_wait:=1.0')
    parser.add_argument('--json', type=Path, default=None, help='write the results here')


def _frames(args: argparse.Namespace) -> list[Any]:
    if args.frames is None:
        from geode_ros.scene.synthetic_room import synthetic_frames

        if args.views < 2:
            raise GeodeError(f'--views must be >= 2, got {args.views}')
        return synthetic_frames(args.views, args.width, args.height)
    from geode_ros.data.sources import open_rgbd

    frames = []
    for frame in open_rgbd(args.frames, intrinsics=args.intrinsics).frames:
        frames.append(frame)
        if len(frames) >= 60:
            break
    return frames


def _messages(frame: Any) -> dict[str, Any]:
    """Pre-encoded messages of one frame (stamps are set when published)."""
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import CameraInfo, Image

    from geode_ros.ros.conversions import matrix_to_pose_msg
    from geode_ros.scene.image_codec import encode_image

    d = np.nan_to_num(frame.depth, nan=0.0, posinf=0.0)
    mm = np.clip(np.rint(d * 1000.0), 0, 65535).astype(np.uint16)
    k = frame.intrinsics
    return {
        'rgb': Image(**encode_image(np.ascontiguousarray(frame.rgb), 'rgb8')),
        'depth': Image(**encode_image(mm, '16UC1')),
        'camera_info': CameraInfo(width=k.width, height=k.height, distortion_model='plumb_bob',
                                  k=[k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0]),
        'pose': PoseStamped(pose=matrix_to_pose_msg(frame.T_world_cam)),
    }


class _Publisher:
    """The camera side: publishers, and the node's latest status."""

    def __init__(self, reliability: str) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from std_msgs.msg import String

        from geode_ros.ros.conversions import make_header
        from geode_ros.ros.qos import sensor_qos

        self.make_header = make_header
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('geode_bench_camera', context=self.context)
        qos = sensor_qos(reliability, 30)
        types = _messages_types()
        self.pubs = {k: self.node.create_publisher(types[k], t, qos) for k, t in TOPICS.items()}
        self.status: dict[str, Any] = {}
        self.node.create_subscription(String, 'geode/status', self._on_status, 10)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _on_status(self, msg: Any) -> None:
        self.status = json.loads(msg.data)

    def wait_connected(self, node_proc: subprocess.Popen, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node_proc.poll() is not None:
                raise GeodeError(f'geode_node exited with {node_proc.returncode}')
            subscribed = all(p.get_subscription_count() > 0 for p in self.pubs.values())
            if subscribed and self.status.get('active'):
                return
            time.sleep(0.1)
        raise GeodeError('geode_node never subscribed / published geode/status')

    def publish(self, msgs: dict[str, Any], stamp: float) -> None:
        camera = self.make_header(CAMERA_FRAME, stamp)
        msgs['pose'].header = self.make_header('map', stamp)
        self.pubs['pose'].publish(msgs['pose'])
        for key in ('rgb', 'depth', 'camera_info'):
            msgs[key].header = camera
            self.pubs[key].publish(msgs[key])

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        import rclpy

        rclpy.try_shutdown(context=self.context)


def _messages_types() -> dict[str, Any]:
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import CameraInfo, Image

    return {'rgb': Image, 'depth': Image, 'camera_info': CameraInfo, 'pose': PoseStamped}


def _start_node(args: argparse.Namespace) -> subprocess.Popen:
    if args.subscriber == 'bare':
        cmd = [sys.executable, '-m', 'geode_ros.cli.bench_bare',
               *(f'{topic}:{key}' for key, topic in TOPICS.items())]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
    params = {'model': args.model, 'pose_source': 'topic', 'status_period': 0.25,
              'qos_reliability': args.qos, 'cloud_period': 0.0}
    cmd = [sys.executable, '-m', 'geode_ros.cli.node', '--ros-args']
    for key, value in params.items():
        cmd += ['-p', f'{key}:={value}']
    for key, topic in TOPICS.items():
        cmd += ['-p', f'topics.{key}:={topic}']
    for extra in args.param:
        cmd += ['-p', extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _counts(status: dict[str, Any]) -> dict[str, Any]:
    node = status.get('node', {})
    keys = ('received_rgb', 'received_depth', 'received_camera_info', 'received_pose',
            'synced', 'fused', 'keyframes', 'skipped_total', 'lost_rgb', 'lost_depth',
            'lost_camera_info')
    out = {k: int(node.get(k, 0)) for k in keys}
    out['skipped'] = dict(node.get('skipped', {}))
    out['waiting'] = int(node.get('waiting', 0))
    out['inputs'] = {k: v.get('reliability') for k, v in status.get('inputs', {}).items()}
    return out


def _diff(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    out = {k: after[k] - before[k] for k in after if isinstance(after[k], int)}
    out['inputs'] = after['inputs']
    out['skipped'] = {r: n - before['skipped'].get(r, 0) for r, n in after['skipped'].items()
                      if n - before['skipped'].get(r, 0)}
    return out


def _settle(pub: _Publisher, timeout: float = 30.0) -> dict[str, Any]:
    """The node's counters once its queue is empty and they stopped changing."""
    deadline, last, still = time.monotonic() + timeout, None, 0
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = _counts(pub.status)
        still = still + 1 if now == last and now['waiting'] == 0 else 0
        if still >= 3:
            return now
        last = now
    return _counts(pub.status)


def run_rate(pub: _Publisher, msgs: list[dict[str, Any]], rate: float, seconds: float,
             stamp0: float) -> tuple[dict[str, Any], float]:
    """Publish at ``rate`` for ``seconds``; the node's counter deltas and the next stamp."""
    before = _settle(pub)
    n = int(round(rate * seconds))
    t0 = time.perf_counter()
    stamp = stamp0
    # Forth and back through the frames: the camera path stays continuous, so a pose
    # interpolated across a lost one is still close (a loop would jump at the seam).
    order = list(range(len(msgs))) + list(range(len(msgs) - 2, 0, -1))
    for i in range(n):
        stamp = stamp0 + i / rate
        pub.publish(msgs[order[i % len(order)]], stamp)
        delay = t0 + (i + 1) / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    wall = time.perf_counter() - t0
    d = _diff(_settle(pub), before)
    received = min(d['received_rgb'], d['received_depth'], d['received_camera_info'])
    result = {
        'rate_hz': rate, 'achieved_hz': n / wall, 'published': n, 'received_rgb':
        d['received_rgb'], 'received_depth': d['received_depth'], 'received_camera_info':
        d['received_camera_info'], 'received_pose': d['received_pose'],
        'dds_reported_lost': {k: d[f'lost_{k}'] for k in ('rgb', 'depth', 'camera_info')},
        'synced': d['synced'], 'fused': d['fused'], 'keyframes': d['keyframes'],
        'skipped': d['skipped'], 'unaccounted': d['synced'] - d['fused'] - d['skipped_total'],
        'received_pct': 100.0 * received / n, 'fused_pct': 100.0 * d['fused'] / n,
        'fused_or_skipped_pct': 100.0 * (d['fused'] + d['skipped_total']) / n,
        'node_reliability': d['inputs'],
    }
    return result, stamp + 1.0


def _offline_points(frames: list[Any]) -> int:
    """Points of the cloud fusing every frame offline with the node's scene defaults."""
    from geode_ros.query.engine import SpatialQueryEngine
    from geode_ros.ros.params import NodeConfig

    engine = SpatialQueryEngine(NodeConfig().scene)
    for f in frames:
        d = np.nan_to_num(f.depth, nan=0.0, posinf=0.0)
        mm = np.clip(np.rint(d * 1000.0), 0, 65535).astype(np.uint16)  # as published
        engine.ingest(f.rgb, mm, f.intrinsics, f.T_world_cam, f.stamp, fuse_all=True)
    return int(engine.stats()['points'])


def _run_publisher(args: argparse.Namespace, msgs: list[dict[str, Any]], reliability: str,
                   proc: subprocess.Popen, stamp: float, size: str
                   ) -> tuple[list[dict], float, dict[str, Any]]:
    """Every rate with publishers of one reliability; (results, next stamp, last status)."""
    pub = _Publisher(reliability)
    results = []
    try:
        pub.wait_connected(proc)
        _, stamp = run_rate(pub, msgs, 5.0, 3.0, stamp)  # warm-up (lazy imports), not counted
        for rate in args.rates:
            result, stamp = run_rate(pub, msgs, rate, args.seconds, stamp)
            result['publisher_qos'] = reliability
            results.append(result)
            print(f"{rate:5.1f} Hz ({result['achieved_hz']:.1f} achieved) {size}, publisher "
                  f"{reliability}, {args.subscriber} {args.qos} "
                  f"({result['node_reliability'].get('rgb')}): "
                  f"published {result['published']}, received {result['received_pct']:.0f}%, "
                  f"fused {result['fused']} ({result['fused_pct']:.0f}%), skipped "
                  f"{result['skipped']}, DDS lost {result['dds_reported_lost']}, fused or "
                  f"skipped {result['fused_or_skipped_pct']:.0f}%, unaccounted "
                  f"{result['unaccounted']}")
    finally:
        pub.close()
    return results, stamp, pub.status


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the node, publish at each rate with each publisher QoS, print the figures."""
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(101, 200)))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    frames = _frames(args)
    msgs = [_messages(f) for f in frames]
    w, h = frames[0].intrinsics.width, frames[0].intrinsics.height
    proc = _start_node(args)  # before the profile: it is the publishing side's only
    if args.publisher_profile is not None:
        if not args.publisher_profile.is_file():
            raise GeodeError(f'--publisher-profile {args.publisher_profile} not found')
        os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'] = str(args.publisher_profile.resolve())
    results, stamp, status = [], 1000.0, {}
    try:
        for reliability in args.publisher_qos:
            res, stamp, status = _run_publisher(args, msgs, reliability, proc, stamp,
                                                f'{w}x{h}')
            results += res
    finally:
        _stop_node(proc)
    cloud = {}
    if args.subscriber == 'node':
        cloud = {'node_points': int(status.get('points', 0)),
                 'offline_points': _offline_points(frames)}
        print(f"fused cloud: node {cloud['node_points']} points, every frame fused offline "
              f"{cloud['offline_points']}")
    out = {'width': w, 'height': h, 'seconds': args.seconds, 'qos': args.qos,
           'views': len(frames), 'subscriber': args.subscriber,
           'publisher_profile': str(args.publisher_profile or ''), 'model': args.model,
           'cpus': os.cpu_count(), 'load_avg': os.getloadavg(), 'rates': results,
           'cloud': cloud}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + '\n')
    return out


def _stop_node(proc: subprocess.Popen) -> None:
    """Ctrl-C the node; show its (throttled) warnings."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    log = proc.stdout.read() if proc.stdout else ''
    warnings = [line for line in log.splitlines() if 'WARN' in line or 'ERROR' in line]
    if warnings:
        print("geode_node's warnings (throttled):\n  " + '\n  '.join(warnings[-12:]))
