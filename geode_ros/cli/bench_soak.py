"""``geode-bench soak``: the node under a live camera for N minutes, over real DDS.

Three processes on a private ROS domain: ``geode-node`` (the shipped model by default),
a camera publisher (RGB-D of a synthetic room at ``--width`` x ``--height``, ``--rate``
Hz, poses on a PoseStamped topic) and a client asking one question a second. Printed:
frames published / received / synchronised / fused, queries ok / failed / timed out,
latency p50 / p95 / max, the node's resident memory each minute. Exit status 1 when
memory grows more than ``--max-growth`` after ``--warmup-s`` or any query times out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from geode_ros.cli.common import interrupt_process, run_main
from geode_ros.errors import GeodeError
from geode_ros.ros.params import NodeConfig

TOPICS = {'rgb': 'soak/rgb', 'depth': 'soak/depth', 'camera_info': 'soak/camera_info',
          'pose': 'soak/pose'}
CAMERA_FRAME = 'soak_camera'
QUESTIONS = ('What is the size of this room (in square meters)?',)


def add_arguments(parser: argparse.ArgumentParser) -> None:

    parser.add_argument('--minutes', type=float, default=10.0, help='soak length (default 10)')
    parser.add_argument('--rate', type=float, default=30.0, help='camera rate in Hz')
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--publisher-qos', choices=('reliable', 'best_effort'),
                        default='reliable', help='reliability of the camera publishers')
    parser.add_argument('--publisher-profile', type=Path, default=None,
                        help='Fast DDS XML profile for the camera process only '
                             '(FASTRTPS_DEFAULT_PROFILES_FILE), e.g. '
                             'config/fastdds_large_frames.xml')
    parser.add_argument('--query-period', type=float, default=1.0, help='s between queries')
    parser.add_argument('--query-timeout', type=float, default=30.0,
                        help='a query without a reply after this many s has timed out')
    parser.add_argument('--model', default=NodeConfig().model,
                        help="the node's model (default: the node's default; none = baseline)")
    parser.add_argument('--question', action='append', default=None,
                        help='question to ask (repeat for several; they rotate)')
    parser.add_argument('--warmup-s', type=float, default=60.0,
                        help='memory growth is measured from this time on (default 60 s)')
    parser.add_argument('--max-growth', type=float, default=0.05,
                        help='largest allowed relative RSS growth after the warm-up: the '
                             'median of the last third of the samples over that of the '
                             'first third (a leak grows it; a moment of backlog does not)')
    parser.add_argument('--node-param', action='append', default=[], metavar='NAME:=VALUE',
                        help='extra ROS parameter for the node (repeatable)')
    parser.add_argument('--domain-id', type=int, default=None,
                        help='ROS_DOMAIN_ID for the three processes (default: private)')
    parser.add_argument('--json', dest='json_out', default=None, help='write results here')
    parser.add_argument('--role', choices=('publisher', 'client'), default=None,
                        help=argparse.SUPPRESS)  # the two child processes


def _rss_mib(pid: int) -> float:
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float('nan')


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float('nan')


# ---------------------------------------------------------------- child: camera publisher
def _camera_messages(width: int, height: int, n: int) -> tuple[list[tuple[Any, ...]], Any]:
    """Pre-rendered (T, rgb Image kwargs, depth Image kwargs) of a camera turning in a room."""
    from geode_ros.scene.image_codec import encode_image
    from geode_ros.scene.synthetic_room import orbit_poses, render_room
    from geode_ros.scene.types import CameraIntrinsics

    f = 0.8 * width
    intr = CameraIntrinsics(f, f, (width - 1) / 2.0, (height - 1) / 2.0, width, height)
    out = []
    for T in orbit_poses(n):
        frame = render_room(T, intr)
        mm = np.round(np.nan_to_num(frame.depth, posinf=0.0) * 1000.0).astype(np.uint16)
        out.append((T, encode_image(frame.rgb, 'rgb8'), encode_image(mm, '16UC1')))
    return out, intr


def _run_publisher(args: argparse.Namespace) -> dict:
    import rclpy
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import CameraInfo, Image

    from geode_ros.ros.conversions import make_header, matrix_to_pose_msg
    from geode_ros.ros.qos import sensor_qos

    frames, intr = _camera_messages(args.width, args.height, 120)  # one turn in 4 s
    rclpy.init()
    node = rclpy.create_node('geode_soak_camera')
    qos = sensor_qos(args.publisher_qos, 10)  # the node's default (auto) matches either
    pubs = {k: node.create_publisher(PoseStamped if k == 'pose' else (
        CameraInfo if k == 'camera_info' else Image), t, qos) for k, t in TOPICS.items()}
    k_matrix = [intr.fx, 0.0, intr.cx, 0.0, intr.fy, intr.cy, 0.0, 0.0, 1.0]
    Path(f'{args.json_out}.ready').touch()  # frames rendered: the parent starts the client
    time.sleep(1.0)  # discovery
    published, period = 0, 1.0 / args.rate
    start = time.monotonic()
    end = start + 60.0 * args.minutes
    try:
        while (now := time.monotonic()) < end:
            next_t = start + published * period
            if now < next_t:
                time.sleep(next_t - now)
            T, rgb, depth = frames[published % len(frames)]
            stamp = time.time()
            pubs['pose'].publish(PoseStamped(header=make_header('map', stamp),
                                             pose=matrix_to_pose_msg(T)))
            header = make_header(CAMERA_FRAME, stamp)
            pubs['rgb'].publish(Image(header=header, **rgb))
            pubs['depth'].publish(Image(header=header, **depth))
            pubs['camera_info'].publish(CameraInfo(header=header, width=intr.width,
                                                   height=intr.height, k=k_matrix,
                                                   distortion_model='plumb_bob'))
            published += 1
    finally:
        elapsed = time.monotonic() - start
        node.destroy_node()
        rclpy.try_shutdown()
    return {'published': published, 'rate_hz': published / max(elapsed, 1e-9)}


# ---------------------------------------------------------------- child: query client
def _run_client(args: argparse.Namespace) -> dict:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import String

    from geode_ros.srv import SpatialQuery

    rclpy.init()
    node = rclpy.create_node('geode_soak_client')
    client = node.create_client(SpatialQuery, 'geode/query')
    status: dict = {}
    node.create_subscription(String, 'geode/status',
                             lambda m: status.update(json.loads(m.data)), 10)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    questions = args.question or list(QUESTIONS)
    ok, failed, timed_out, latencies, messages = 0, 0, 0, [], {}
    try:
        if not client.wait_for_service(timeout_sec=120.0):
            raise GeodeError('geode/query never appeared')
        start = time.monotonic()
        end, n = start + 60.0 * args.minutes, 0
        while (now := time.monotonic()) < end:
            next_t = start + n * args.query_period
            if now < next_t:
                time.sleep(next_t - now)
            done = threading.Event()
            t0 = time.perf_counter()
            future = client.call_async(SpatialQuery.Request(question=questions[n % len(
                questions)]))
            future.add_done_callback(lambda _, ev=done: ev.set())
            n += 1
            if not done.wait(args.query_timeout):
                timed_out += 1
                continue
            latencies.append(time.perf_counter() - t0)
            reply = future.result()
            if reply.success:
                ok += 1
            else:
                failed += 1
                messages[reply.message[:80]] = messages.get(reply.message[:80], 0) + 1
        time.sleep(1.5)  # one more status message
    finally:
        executor.shutdown(timeout_sec=5.0)
        spinner.join(timeout=5.0)
        node.destroy_node()
        rclpy.try_shutdown()
    return {'queries_ok': ok, 'queries_failed': failed, 'queries_timed_out': timed_out,
            'failure_messages': messages, 'latency_s': latencies, 'status': status}


# ---------------------------------------------------------------- parent
def _child(role: str, args: argparse.Namespace, env: dict, out: Path) -> subprocess.Popen:
    argv = [sys.executable, '-m', 'geode_ros.cli.bench_soak', '--role', role,
            '--minutes', str(args.minutes), '--rate', str(args.rate), '--width', str(args.width),
            '--height', str(args.height), '--query-period', str(args.query_period),
            '--query-timeout', str(args.query_timeout), '--json', str(out),
            '--publisher-qos', args.publisher_qos]
    if role == 'publisher' and args.publisher_profile is not None:
        env = dict(env, FASTRTPS_DEFAULT_PROFILES_FILE=str(args.publisher_profile.resolve()))
    for q in args.question or []:
        argv += ['--question', q]
    return subprocess.Popen(argv, env=env)


def _node_args(args: argparse.Namespace) -> list[str]:
    argv = [sys.executable, '-m', 'geode_ros.cli.node', '--ros-args',
            '-p', 'pose_source:=topic', '-p', f'model:={args.model}', '-p', 'status_period:=1.0',
            '-p', 'cloud_period:=0.0']
    argv += [a for k, t in TOPICS.items() for a in ('-p', f'topics.{k}:={t}')]
    return argv + [a for p in args.node_param for a in ('-p', p)]


def _wait_active(node: subprocess.Popen, log_path: Path, timeout: float = 300.0) -> None:
    """Block until the node logs that it is serving (model loaded), or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.poll() is not None:
            raise GeodeError(f'the node exited with {node.returncode}; log: {log_path}')
        if 'serving geode/query' in log_path.read_text(errors='replace'):
            return
        time.sleep(0.5)
    raise GeodeError(f'the node was not active after {timeout:.0f} s; log: {log_path}')


def _counts(status: dict) -> dict[str, Any]:
    node = status.get('node', {})
    received = {k[len('received_'):]: v for k, v in node.items() if k.startswith('received_')}
    return {'received': received, 'synced': node.get('synced', node.get('sync_matched')),
            'fused': node.get('fused'), 'keyframes': node.get('keyframes'),
            'ingested': node.get('ingested'),
            'skipped_or_rejected': {k: v for k, v in node.items()
                                    if k.startswith(('rejected_', 'errors_', 'skipped', 'lost_'))}}


def rss_growth(samples: list[float]) -> float:
    """Relative growth of resident memory: the median of the last third of ``samples`` over
    the median of the first third. A leak raises it; one peak (frames queued for a
    moment while a query runs) does not, as it would a max-over-first-sample figure."""
    if len(samples) < 3:
        return 0.0
    third = len(samples) // 3
    return float(np.median(samples[-third:]) / np.median(samples[:third]) - 1.0)


def run(args: argparse.Namespace) -> dict:
    """Run the soak (or one of its child roles) and print the report."""
    if args.role is not None:
        result = _run_publisher(args) if args.role == 'publisher' else _run_client(args)
        Path(args.json_out).write_text(json.dumps(result))
        return result
    import tempfile

    domain = args.domain_id if args.domain_id is not None else 100 + os.getpid() % 100
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain))
    tmp = Path(tempfile.mkdtemp(prefix='geode-soak-'))
    log = (tmp / 'node.log').open('w')
    node = subprocess.Popen(_node_args(args), env=env, stdout=log, stderr=subprocess.STDOUT)
    children = {}
    rss: list[tuple[float, float]] = []
    try:
        _wait_active(node, tmp / 'node.log')
        children = {'publisher': _child('publisher', args, env, tmp / 'publisher.json')}
        while not (tmp / 'publisher.json.ready').exists():
            if children['publisher'].poll() is not None:
                raise GeodeError('the soak publisher exited before publishing')
            time.sleep(0.2)
        children['client'] = _child('client', args, env, tmp / 'client.json')
        start = time.monotonic()
        while any(c.poll() is None for c in children.values()):
            if node.poll() is not None:
                raise GeodeError(f'the node exited with {node.returncode}; log: {tmp}/node.log')
            rss.append((time.monotonic() - start, _rss_mib(node.pid)))
            time.sleep(1.0)
        for role, child in children.items():  # a crash in teardown after the results is
            if not (tmp / f'{role}.json').exists():  # only noted: the numbers are complete
                raise GeodeError(f'the soak {role} exited with {child.returncode}')
            if child.returncode != 0:
                print(f'geode-bench soak: the {role} exited with {child.returncode} after '
                      'writing its results', file=sys.stderr)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
        interrupt_process(node)
        log.close()
    pub = json.loads((tmp / 'publisher.json').read_text())
    cli = json.loads((tmp / 'client.json').read_text())
    lat = cli.pop('latency_s')
    p50, p95 = _percentile(lat, 50), _percentile(lat, 95)
    per_minute = [round(next(m for t, m in rss if t >= 60 * k), 1)
                  for k in range(1, int(rss[-1][0] // 60) + 1)] if rss else []
    growth = rss_growth([m for t, m in rss if t >= args.warmup_s])
    result = {
        'minutes': args.minutes, 'model': args.model or 'geometric-baseline',
        'publisher_qos': args.publisher_qos,
        'publisher_profile': str(args.publisher_profile or ''), 'load_avg': os.getloadavg(),
        'image': f'{args.width}x{args.height}', 'rate_hz': round(pub['rate_hz'], 2),
        'published': pub['published'], **_counts(cli.pop('status')),
        'queries_ok': cli['queries_ok'], 'queries_failed': cli['queries_failed'],
        'queries_timed_out': cli['queries_timed_out'],
        'failure_messages': cli['failure_messages'],
        'latency_p50_s': round(p50, 3), 'latency_p95_s': round(p95, 3),
        'latency_max_s': round(max(lat), 3) if lat else None,
        'latency_p95_over_p50': round(p95 / max(p50, 1e-9), 2) if lat else None,
        'rss_start_mib': round(rss[0][1], 1) if rss else None,
        'rss_per_minute_mib': per_minute, 'rss_max_mib': round(max(m for _, m in rss), 1),
        'rss_growth_after_warmup': round(growth, 4), 'warmup_s': args.warmup_s,
        'node_log': str(tmp / 'node.log'),
    }
    result['passed'] = result['queries_timed_out'] == 0 and growth <= args.max_growth
    print(json.dumps(result, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m geode_ros.cli.bench_soak`` (the child roles run this way)."""
    parser = argparse.ArgumentParser(prog='geode-bench soak', description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    result = run_main('geode-bench soak', lambda _: run(args), argv)
    if isinstance(result, int):  # the error exit
        return result
    return 0 if args.role is not None or result['passed'] else 1


if __name__ == '__main__':
    sys.exit(main())
