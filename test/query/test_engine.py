import threading

import numpy as np
import pytest

from geode_ros.errors import GeodeError
from geode_ros.query.engine import SpatialQueryEngine
from geode_ros.scene.config import SceneConfig
from geode_ros.scene.types import Answer


class SlowReasoner:
    """Counts encodes; ``answer`` blocks until released, so ingest must not need it."""

    def __init__(self, block=True):
        self.encoded, self.started, self.release = 0, threading.Event(), threading.Event()
        self.timed_out = False
        if not block:
            self.release.set()

    def encode_keyframe(self, frame):
        self.encoded += 1
        return float(frame.depth.mean())

    def answer(self, question, snapshot):
        self.started.set()
        self.timed_out = not self.release.wait(10)
        assert all(k.features is not None for k in snapshot.keyframes)
        return Answer(text=f'{len(snapshot.points)} points', values=[len(snapshot.keyframes)])


def test_room_size_from_baseline(room_frames):
    eng = SpatialQueryEngine(SceneConfig(depth_stride=1))
    inserted = [eng.ingest_frame(f) for f in room_frames]
    assert inserted[0] and sum(inserted) >= 6
    ans = eng.query('What is the size of this room (in square meters)?')
    assert ans.question_type == 'room_size_estimation'
    assert 17.0 < ans.values[0] < 23.0  # 5 x 4 m room
    assert ans.frame_id == 'map' and ans.stamp == pytest.approx(room_frames[-1].stamp)
    assert {'snapshot_s', 'reason_s', 'total_s'} <= set(ans.timings)
    with pytest.raises(GeodeError, match='--model'):
        eng.query('How many chairs are there?')
    stats = eng.stats()
    assert stats['frames_ingested'] == len(room_frames) and stats['points'] > 0


def test_input_validation(room_frames):
    eng = SpatialQueryEngine()
    f = room_frames[0]
    with pytest.raises(GeodeError, match='empty'):
        eng.query('how big is the room?')
    with pytest.raises(GeodeError, match='question'):
        eng.query('  ')
    bad_T = f.T_world_cam.copy()
    bad_T[0, 3] = np.nan
    cases = [
        dict(depth=f.depth[:-1]), dict(depth=f.depth.astype(np.int32)), dict(T_world_cam=bad_T),
        dict(rgb=f.rgb[..., :2]), dict(frame_id='odom'),
    ]
    for change in cases:
        kw = dict(rgb=f.rgb, depth=f.depth, intrinsics=f.intrinsics, T_world_cam=f.T_world_cam)
        kw.update(change)
        with pytest.raises(GeodeError):
            eng.ingest(**kw)
    mm = np.rint(f.depth * 1000).astype(np.uint16)  # uint16 millimetres accepted
    assert eng.ingest(f.rgb, mm, f.intrinsics, f.T_world_cam, frame_id='map')
    with pytest.raises(GeodeError):
        eng.ingest_points(np.zeros((3, 2)), None, np.eye(4))


def test_ingest_points_and_reset():
    eng = SpatialQueryEngine()
    xyz = np.random.default_rng(0).uniform(0, 3, (1000, 3)).astype(np.float32)
    xyz[0] = np.nan
    assert eng.ingest_points(xyz, None, np.eye(4), stamp=2.0) == 999
    snap = eng.snapshot()
    assert snap.points.shape[0] > 0 and snap.stamp == 2.0 and snap.keyframes == []
    eng.reset()
    assert eng.stats()['points'] == 0


def test_query_runs_outside_lock_and_lazy_reencode(room_frames):
    reasoner = SlowReasoner()
    eng = SpatialQueryEngine(reasoner=reasoner)
    for f in room_frames[:3]:
        eng.ingest_frame(f)
    n_kf = eng.stats()['keyframes']
    assert reasoner.encoded == n_kf
    result = {}
    t = threading.Thread(target=lambda: result.setdefault('a', eng.query('anything')))
    t.start()
    assert reasoner.started.wait(5)
    for f in room_frames[3:]:  # must not wait for the running query
        eng.ingest_frame(f)
    eng.stats()
    reasoner.release.set()
    t.join()
    assert not reasoner.timed_out  # ingest finished while the query was still thinking
    assert result['a'].values == [n_kf]
    other = SlowReasoner(block=False)
    eng.set_reasoner(other)
    assert other.encoded == 0  # lazy
    eng.query('again')
    assert other.encoded == eng.stats()['keyframes']
    eng.query('again')
    assert other.encoded == eng.stats()['keyframes']  # cached, not recomputed


def test_memory_is_bounded(room_frames):
    cfg = SceneConfig(max_keyframes=4, max_points=2000, keyframe_translation_m=0.1)
    eng = SpatialQueryEngine(cfg)
    f = room_frames[0]
    for i in range(60):
        T = f.T_world_cam.copy()
        T[0, 3] += 0.2 * i
        eng.ingest(f.rgb, f.depth, f.intrinsics, T)
    s = eng.stats()
    assert s['keyframes'] == 4 and s['points'] <= 2000


def test_config_validation():
    with pytest.raises(GeodeError, match='voxel_size_m'):
        SpatialQueryEngine(SceneConfig(voxel_size_m=0))
    with pytest.raises(GeodeError, match='min_depth_m'):
        SceneConfig(min_depth_m=5, max_depth_m=1).validate()


def test_detections_empty_without_detector(room_frames):
    eng = SpatialQueryEngine(SceneConfig(depth_stride=4))
    assert eng.detections() == []  # empty memory
    for f in room_frames[:3]:
        eng.ingest_frame(f)
    assert eng.detections() == []  # the geometric baseline names no objects
