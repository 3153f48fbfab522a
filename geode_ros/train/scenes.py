"""Scenes and QA records as model samples.

Each scene folder is replayed once through the real ``SpatialQueryEngine`` (the same
keyframe selection and fusion the node uses), so training sees exactly the inputs the
robot will see. The vision features of each keyframe are cached per scene: the vision
tower is frozen in both stages, so they never change during a run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geode_ros.data.frames import FramesFolder
from geode_ros.data.qa import QARecord
from geode_ros.errors import GeodeError
from geode_ros.model.batch import GeodeSample, KeyframeFeatures
from geode_ros.model.objects import assign_targets
from geode_ros.query.engine import SpatialQueryEngine
from geode_ros.scene.config import SceneConfig
from geode_ros.scene.depth import depth_to_points
from geode_ros.scene.proposals import Proposals, propose_objects, seen_range
from geode_ros.scene.types import Box3D, SceneSnapshot


def question_with_options(record: QARecord) -> str:
    """The prompt text of a record: multiple-choice options go on their own lines."""
    if record.options:
        return record.question.strip() + '\n' + '\n'.join(record.options)
    return record.question.strip()


# How a scene reaches the engine: RGB-D frames, or only the point clouds a depth driver or
# lidar would publish (PointCloud2 in the sensor frame, with or without colours).
INPUTS: tuple[str, ...] = ('frames', 'points', 'points-nocolor')


def replay_scene(folder: str | Path, config: SceneConfig | None = None,
                 inputs: str = 'frames') -> SceneSnapshot:
    """Feed every frame of a frames folder through a fresh engine; return its snapshot.
    ``inputs`` 'points' / 'points-nocolor' feed each frame as a cloud instead (depth
    back-projected in the camera frame with the engine's stride, the pose and stamp of the
    frame; no keyframes): what the node sees from a ``PointCloud2``-only sensor."""
    if inputs not in INPUTS:
        raise GeodeError(f'inputs must be one of {", ".join(INPUTS)}, got {inputs!r}')
    config = config or SceneConfig()
    engine = SpatialQueryEngine(config)
    for frame in FramesFolder(folder):
        if inputs == 'frames':
            engine.ingest_frame(frame)
            continue
        xyz, rgb = depth_to_points(frame.depth, frame.intrinsics, None, frame.rgb,
                                   config.min_depth_m, config.max_depth_m, config.depth_stride)
        engine.ingest_points(xyz, rgb if inputs == 'points' else None, frame.T_world_cam,
                             frame.stamp)
    return engine.snapshot()


def _evenly_spaced(n_have: int, n_want: int) -> list[int]:
    """Indices of ``n_want`` evenly spaced items of ``n_have`` (first and last included)."""
    if n_have <= n_want:
        return list(range(n_have))
    return sorted({int(round(x)) for x in np.linspace(0, n_have - 1, n_want)})


def scene_objects(folder: str | Path) -> list[Box3D] | None:
    """Ground-truth boxes of a synthetic scene's seen objects (scene.json); None without."""
    path = Path(folder) / 'scene.json'
    if not path.is_file():
        return None
    meta = json.loads(path.read_text())
    return [Box3D.from_dict(o['box']) for o in meta.get('objects', [])
            if o.get('first_seen') is not None]


def scene_classes(root: str | Path) -> tuple[str, ...]:
    """The sorted object labels of every scene.json under ``root/scenes`` (the vocabulary)."""
    labels: set[str] = set()
    for path in sorted(Path(root).glob('scenes/*/scene.json')):
        labels.update(o['label'] for o in json.loads(path.read_text()).get('objects', []))
    return tuple(sorted(labels))


@dataclass
class SceneInputs:
    """What a sample needs from its scene: the fused cloud, encoded keyframes and (when the
    model has object tokens) its proposals with their training targets."""

    points: np.ndarray
    colors: np.ndarray
    keyframes: list[KeyframeFeatures]
    proposals: Proposals | None = None
    object_targets: tuple[np.ndarray, np.ndarray] | None = None
    keyframe_stamps: tuple[float, ...] = ()  # of every keyframe of the replay
    sensor_pose: np.ndarray | None = None  # the camera at the last frame: the robot's view


class SceneStore:
    """Lazily replays and encodes scenes of a dataset root, once each."""

    def __init__(self, root: str | Path, model, config: SceneConfig | None = None,
                 inputs: str = 'frames') -> None:
        if inputs not in INPUTS:
            raise GeodeError(f'inputs must be one of {", ".join(INPUTS)}, got {inputs!r}')
        self.root = Path(root)
        self.model = model
        self.config = config or SceneConfig()
        self.inputs = inputs
        self._cache: dict[str, SceneInputs] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def get(self, scene: str) -> SceneInputs:
        if scene not in self._cache:
            folder = self.root / scene
            if not folder.is_dir():
                raise GeodeError(f'scene folder {folder} not found (QA record scene={scene!r})')
            snap = replay_scene(folder, self.config, self.inputs)
            # The model reads at most max_keyframes evenly spaced keyframes: encode only those.
            keep = _evenly_spaced(len(snap.keyframes), self.model.config.max_keyframes)
            feats = [self.model.encode_keyframe(snap.keyframes[i].frame) for i in keep]
            inputs = SceneInputs(snap.points, snap.colors, feats,
                                 keyframe_stamps=tuple(kf.frame.stamp for kf in snap.keyframes),
                                 sensor_pose=snap.sensor_pose)
            ocfg = self.model.config.objects
            if ocfg.enabled:
                inputs.proposals = propose_objects(snap.points, snap.colors, ocfg.proposals)
                p = inputs.proposals
                p.first_seen, p.last_seen = seen_range(p, snap.keyframes, snap.point_stamps)
                gt = scene_objects(folder)
                if gt is not None and ocfg.classes:
                    inputs.object_targets = assign_targets(inputs.proposals, gt, ocfg.classes)
            self._cache[scene] = inputs
        return self._cache[scene]

    def scene_sample(self, scene: str) -> GeodeSample:
        """A sample of the scene alone, for detection (a grounding prompt, no target)."""
        inputs = self.get(scene)
        return GeodeSample('Where is the object?', inputs.points, inputs.colors,
                           list(inputs.keyframes), qtype='grounding_3d',
                           proposals=inputs.proposals, object_targets=inputs.object_targets)

    def sample(self, record: QARecord) -> GeodeSample:
        """The model sample of one record (targets filled from the record)."""
        inputs = self.get(record.scene)
        return GeodeSample(
            question=question_with_options(record),
            points=inputs.points,
            colors=inputs.colors,
            keyframes=list(inputs.keyframes),
            qtype=record.type,
            answer=record.answer,
            value=record.value,
            box=Box3D.from_dict(record.box) if record.box else None,
            rationale=record.rationale or None,
            proposals=inputs.proposals,
            object_targets=inputs.object_targets,
            keyframe_stamps=list(inputs.keyframe_stamps),
            sensor_pose=inputs.sensor_pose,
        )
