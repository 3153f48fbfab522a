"""No silent frame loss: every queued set is fused or skipped with a reason (no DDS here).

A real ``SensorPipeline`` (synchroniser, ingest thread, pose source, engine) is fed
real ROS messages of the synthetic room, in the orders a loaded machine produces.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
import ros_room as room  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from geode_ros.query.engine import SpatialQueryEngine  # noqa: E402
from geode_ros.ros.conversions import (  # noqa: E402
    make_header,
    matrix_to_pose_msg,
    pose_msg_to_matrix,
)
from geode_ros.ros.ingest import FrameCounters, IngestWorker, Pending, SkipFrame  # noqa: E402
from geode_ros.ros.params import NodeConfig  # noqa: E402
from geode_ros.ros.sensors import SensorPipeline  # noqa: E402
from geode_ros.ros.tf import TopicPoseSource  # noqa: E402
from geode_ros.scene.image_codec import encode_image  # noqa: E402

CAMERA = 'camera_color_optical_frame'


def _frame(k: int) -> tuple[float, PoseStamped, tuple[Image, Image, CameraInfo]]:
    stamp = 10.0 + k / 15.0
    T = room.camera_pose(np.radians(10 * k))
    depth = room.render_depth(T)
    header = make_header(CAMERA, stamp)
    mm = np.where(np.isfinite(depth), np.round(depth * 1000), 0).astype(np.uint16)
    f = room.FOCAL
    msgs = (Image(header=header, **encode_image(room.render_rgb(depth), 'rgb8')),
            Image(header=header, **encode_image(mm, '16UC1')),
            CameraInfo(header=header, width=room.WIDTH, height=room.HEIGHT,
                       k=[f, 0.0, room.WIDTH / 2, 0.0, f, room.HEIGHT / 2, 0.0, 0.0, 1.0]))
    pose = PoseStamped(header=make_header('map', stamp), pose=matrix_to_pose_msg(T))
    return stamp, pose, msgs


@pytest.fixture()
def pipeline():
    made = []

    def make(**overrides):
        warnings: list[str] = []
        cfg = NodeConfig(model='none', pose_source='topic', **overrides)
        counters = FrameCounters(warnings.append, throttle_s=60.0)
        p = SensorPipeline(cfg, SpatialQueryEngine(cfg.scene), TopicPoseSource(0.05),
                           counters)
        p.start()
        made.append(p)
        return p, warnings

    yield make
    for p in made:
        p.stop()


def _feed_images(p: SensorPipeline, frames) -> None:
    for _, _, (rgb, depth, info) in frames:
        for i, msg in enumerate((rgb, depth, info)):
            p.sync_input(i)(msg)


def test_images_before_their_pose_wait_and_are_all_fused(pipeline):
    p, warnings = pipeline(pose_wait=5.0)
    frames = [_frame(k) for k in range(8)]
    _feed_images(p, frames)  # every image before any pose, as a loaded machine delivers
    time.sleep(0.2)
    assert p.status()['waiting'] == 8 and p.counters.snapshot()['fused'] == 0
    for _, pose, _ in frames:
        p.on_pose(pose)
    assert p.worker.wait_idle()
    counts = p.counters.snapshot()
    assert counts['synced'] == 8 and counts['fused'] == 8 and counts['skipped_total'] == 0
    assert counts['keyframes'] >= 1 and warnings == []
    assert counts['last_stamp'] == pytest.approx(frames[-1][0])


def test_waiting_is_bounded_in_count_with_a_reason(pipeline):
    p, warnings = pipeline(pose_wait=5.0, ingest_queue=4)
    frames = [_frame(k) for k in range(10)]
    _feed_images(p, frames)
    assert p.status()['waiting'] == 4
    for _, pose, _ in frames:
        p.on_pose(pose)
    assert p.worker.wait_idle()
    counts = p.counters.snapshot()
    skipped = counts['skipped']
    assert skipped['pose_wait_overflow'] == 6  # the oldest, while they waited
    # Released at once, four sets are more than half the queue: keyframes only until
    # the worker is through them (behind, and saying so).
    assert counts['fused'] + skipped.get('fuse_backlog', 0) == 4
    assert counts['fused'] + counts['skipped_total'] == counts['synced'] == 10
    overflow = [w for w in warnings if 'pose_wait_overflow' in w]
    assert len(overflow) == 1  # throttled: one warning for six skips


def test_waiting_is_bounded_in_time_with_a_reason(pipeline):
    p, warnings = pipeline(pose_wait=0.1)
    _feed_images(p, [_frame(k) for k in range(3)])  # no pose will ever come
    t0 = time.monotonic()
    assert p.worker.wait_idle(timeout=5.0)
    assert time.monotonic() - t0 < 2.0
    counts = p.counters.snapshot()
    assert counts['skipped'] == {'no_pose': 3} and counts.get('fused', 0) == 0
    assert len(warnings) == 1 and 'no camera pose' in warnings[0]


def test_keyframes_only_when_fusing_all_frames_is_off(pipeline):
    p, warnings = pipeline(scene=NodeConfig().scene.__class__(fuse_all_frames=False))
    frames = [_frame(0)] * 1 + [_frame(k) for k in range(1, 4)]
    for stamp, pose, msgs in frames:
        p.on_pose(pose)
        _feed_images(p, [(stamp, pose, msgs)])
    assert p.worker.wait_idle()
    counts = p.counters.snapshot()
    assert counts['fused'] == counts['keyframes'] >= 1
    assert counts['skipped'].get('not_keyframe', 0) == 4 - counts['fused']
    assert warnings == []  # a setting, not a problem


def test_reason_codes_of_errors_are_counted_as_given():
    warnings: list[str] = []
    counters = FrameCounters(warnings.append, throttle_s=60.0)

    class DepthError(ValueError):  # another module's error type carrying a reason code
        reason = 'depth_encoding'

    def process(item: Pending, fuse_all: bool) -> tuple[bool, bool]:
        if item.stamp < 3:
            raise SkipFrame('empty_depth', 'all depth pixels invalid')
        if item.stamp < 5:
            raise DepthError('32SC1 depth is not supported')
        return True, False

    worker = IngestWorker(process, lambda item: True, counters, queue=16, pose_wait_s=0.0)
    worker.start()
    try:
        for k in range(7):
            worker.submit(Pending('rgbd', float(k), ()))
        assert worker.wait_idle()
    finally:
        worker.stop()
    counts = counters.snapshot()
    assert counts['skipped'] == {'empty_depth': 3, 'depth_encoding': 2}
    assert counts['fused'] == 2 and len(warnings) == 2


def test_pose_between_two_poses_is_interpolated():
    from geode_ros.scene.geometry import pose_to_matrix, yaw_to_quat_xyzw

    source = TopicPoseSource(max_age=0.2)
    for stamp, yaw, x in ((1.0, 0.0, 0.0), (1.1, np.radians(20), 1.0)):
        T = pose_to_matrix([x, 0.0, 0.0], yaw_to_quat_xyzw(yaw))
        source.add_pose(PoseStamped(header=make_header('map', stamp),
                                    pose=matrix_to_pose_msg(T)))
    T = source.camera_pose('map', CAMERA, 1.025)  # a quarter of the way
    expected = pose_to_matrix([0.25, 0.0, 0.0], yaw_to_quat_xyzw(np.radians(5)))
    assert np.allclose(T, expected, atol=1e-9)
    assert source.ready('map', CAMERA, 1.1) and not source.ready('map', CAMERA, 1.11)


def test_a_y_down_world_gives_the_same_scene_as_a_z_up_one(pipeline):
    """world_up: the same sweep with poses in a y-down tracker world (as 7-Scenes) fills
    scene memory as the z-up sweep does, so room size and heights agree."""
    from geode_ros.scene.geometry import axis_vector, invert_transform, rotation_to_z_up

    z_up_to_y_down = invert_transform(rotation_to_z_up(axis_vector('-y')))
    clouds, areas = [], []
    for world_up, turn in (('z', np.eye(4)), ('-y', z_up_to_y_down)):
        p, _ = pipeline(world_up=world_up, pose_wait=5.0)
        frames = [_frame(k) for k in range(6)]
        for _, pose, _ in frames:  # the same poses, expressed in that world
            pose.pose = matrix_to_pose_msg(turn @ pose_msg_to_matrix(pose.pose))
        _feed_images(p, frames)
        for _, pose, _ in frames:
            p.on_pose(pose)
        assert p.worker.wait_idle() and p.counters.snapshot()['fused'] == 6
        snap = p.engine.snapshot()
        clouds.append(snap.points)
        areas.append(p.engine.query('What is the size of this room (in square meters)?').values)
    # Walls lie on voxel boundaries, so rounding may move a few points by one voxel.
    (a, b), voxel = clouds, p.cfg.scene.voxel_size_m
    assert abs(len(a) - len(b)) <= 0.01 * len(a)
    assert np.allclose(a.min(0), b.min(0), atol=voxel) and np.allclose(a.max(0), b.max(0),
                                                                         atol=voxel)
    quantiles = (5, 25, 50, 75, 95)  # heights: the y-down sweep is z-up in memory
    assert np.allclose(np.percentile(a[:, 2], quantiles), np.percentile(b[:, 2], quantiles),
                       atol=voxel)
    assert areas[0] == pytest.approx(areas[1], rel=1e-2) and areas[0][0] > 1.0


def test_world_up_must_name_an_axis():
    from geode_ros.errors import GeodeError

    with pytest.raises(GeodeError, match='world_up must be one of'):
        NodeConfig(world_up='up')
    assert NodeConfig().up_alignment() is None
    R = NodeConfig(world_up='-y').up_alignment()
    assert np.allclose(R[:3, :3] @ [0.0, -1.0, 0.0], [0.0, 0.0, 1.0])
