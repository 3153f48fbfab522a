"""Node settings as dataclasses: the one source of ROS parameter defaults.

Every leaf of ``NodeConfig`` (including the nested ``SceneConfig``) is declared as
a ROS parameter with its ``help`` metadata as description, and
``config/geode.yaml`` is generated from the same fields by ``write_default_yaml``
(``python -m geode_ros.ros.params config/geode.yaml``), so defaults never drift.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geode_ros.config import check_choices, choice, from_dict, unflatten
from geode_ros.errors import GeodeError
from geode_ros.query.config import QueryConfig
from geode_ros.ros.model_path import SHIPPED_MODEL
from geode_ros.scene.config import SceneConfig
from geode_ros.scene.geometry import UP_AXES, axis_vector, rotation_to_z_up

NODE_NAME = 'geode_node'
POSE_SOURCES = ('auto', 'tf', 'topic')
RELIABILITIES = ('auto', 'best_effort', 'reliable')
DTYPES = ('auto', 'float32', 'float16', 'bfloat16')
QUANTIZATIONS = ('none', 'int8', 'int4')


def _f(default: Any, help: str, choices: tuple[str, ...] = ()) -> Any:  # noqa: A002
    """A field with its ROS parameter description (``help``) and allowed values."""
    return choice(default, help, choices) if choices else field(default=default,
                                                                metadata={'help': help})


@dataclass
class TopicsConfig:
    """Input topic names (relative: they follow the node namespace and remaps)."""

    rgb: str = _f('camera/color/image_raw', 'Colour image (sensor_msgs/Image).')
    depth: str = _f('camera/aligned_depth_to_color/image_raw',
                    'Depth image registered to the colour image (16UC1 or 32FC1).')
    camera_info: str = _f('camera/color/camera_info', 'CameraInfo of the colour camera.')
    points: str = _f('', 'Optional PointCloud2 input; empty = not subscribed.')
    pose: str = _f('camera/pose', 'PoseStamped of the camera optical frame in the fixed frame '
                   '(used when pose_source is topic).')


@dataclass
class NodeConfig:
    """Everything ``geode_node`` reads at configure time."""

    model: str = _f(SHIPPED_MODEL, 'Model directory (config.json + model.safetensors), or the '
                    'name of a model installed in share/geode_ros/models (geode-tiny, the '
                    'shipped one); none = geometric baseline (room size only).')
    device: str = _f('auto', 'Torch device for the model: auto, cpu, cuda, cuda:0, ...')
    dtype: str = _f('auto', 'Model dtype: auto, float32, float16, bfloat16.', DTYPES)
    quantization: str = _f('none', 'LLM weight quantisation: none, int8, int4.',
                           QUANTIZATIONS)
    proposal_refresh: float = _f(2.0, 'Seconds a growing cloud reuses its object proposals '
                                 'before they are recomputed for a query (0 = every query '
                                 'after a cloud update).')
    torch_threads: int = _f(1, 'CPU threads for inference (0 = torch default). One: the '
                            'ingest thread decodes images at the same time, and OpenMP '
                            'threads that wait for a busy core stall a query for seconds.')
    gil_switch_interval_ms: float = _f(
        0.5, "Python thread switch interval in ms (0 = leave Python's 5 ms). Every torch op "
        'and DDS wait releases the GIL; getting it back from the busy ingest thread takes up '
        'to one interval, so at 5 ms a query of a few hundred ops takes seconds and sensor '
        'queues overflow (geode-bench soak: p95 5.3 s -> 0.2-0.3 s at 0.5 ms).')
    autostart: bool = _f(True, 'Configure and activate on start (standalone runs).')
    topics: TopicsConfig = field(default_factory=TopicsConfig)
    use_rgbd: bool = _f(True, 'Subscribe RGB + depth + CameraInfo (synchronised).')
    pose_source: str = _f('auto', 'Camera pose source: tf, topic, or auto '
                          '(tf when tf2_ros or tf2_msgs is importable, else topic).',
                          POSE_SOURCES)
    world_up: str = _f('z', 'Axis of the fixed frame that points up: z for a ROS world frame '
                       "(REP 103: map, odom), or -y, y, x, -x, -z for a tracker's world such "
                       'as a y-down visual-SLAM map. Scene memory is kept z-up; boxes, '
                       'markers, the cloud and answer text are given back in the fixed frame.',
                       UP_AXES)
    camera_frame: str = _f('', 'Camera optical frame for TF lookups; empty = the image '
                           'header frame_id.')
    pose_max_age: float = _f(0.2, 'An image gets the pose interpolated between the poses just '
                             'before and after its stamp when both lie within this many '
                             'seconds; poses are never extrapolated.')
    sync_slop: float = _f(0.015, 'Approximate-time sync: largest stamp spread (s) in one RGB + '
                          'depth + CameraInfo set. Keep it under half the frame period '
                          '(16 ms at 30 Hz), or a lost image pairs with its neighbour.')
    sync_queue: int = _f(30, 'Approximate-time sync: messages queued per input (30: one '
                         'input may lag the others by a second at 30 Hz on a busy machine).')
    qos_reliability: str = _f('auto', 'Sensor subscription reliability: auto (reliable while '
                              'every publisher on the topic offers reliable, so nothing is '
                              'lost in transport; best effort when one offers best effort or '
                              'none is there yet; re-checked every qos_check_period), reliable '
                              '(never matches a best-effort publisher) or best_effort (matches '
                              'both, repairs nothing).', RELIABILITIES)
    qos_check_period: float = _f(1.0, 'Seconds between checks of the publishers on the input '
                                 'topics (auto reliability follows them; geode/status and '
                                 'the empty-memory reply report them); 0 = at activation only.')
    qos_depth: int = _f(30, 'Sensor subscription queue depth (history KEEP_LAST): frames DDS '
                        'holds while the executor is busy; beyond it the oldest is '
                        'overwritten (counted as lost). 30 = 1 s at 30 Hz.')
    marker_lifetime: float = _f(0.0, 'Lifetime (s) of answer markers; 0 = until replaced.')
    cloud_period: float = _f(2.0, 'Publish the fused cloud on geode/cloud every N s '
                             '(only with subscribers); 0 = never.')
    status_period: float = _f(1.0, 'Publish JSON stats on geode/status every N s; 0 = never.')
    detections_period: float = _f(1.0, "Publish the model's current detections as "
                                  'vision_msgs/Detection3DArray on geode/detections every N s '
                                  '(only with subscribers; recomputed when the scene changed); '
                                  '0 = never.')
    log_throttle: float = _f(5.0, 'Least time (s) between repeated warnings of one kind.')
    ingest_queue: int = _f(32, 'Frame sets (and clouds) that may wait for their pose or for '
                           'the ingest thread; beyond it the oldest is skipped with a reason.')
    pose_wait: float = _f(2.0, 'Longest time (s) a frame set waits for its camera pose '
                          '(images often arrive before their TF).')
    max_question_chars: int = _f(2000, 'Longest question (characters) the service accepts; '
                                 'longer ones are refused without being processed.')
    query: QueryConfig = field(default_factory=QueryConfig)
    # The same scene defaults as geode-replay, geode-eval and training: every frame fused
    # (keyframes feed the model); the node falls back to keyframes while it is behind.
    scene: SceneConfig = field(default_factory=SceneConfig)

    def __post_init__(self) -> None:
        check_choices(self)  # pose_source, qos_reliability, world_up, dtype, quantization
        if self.max_question_chars < 1:
            raise GeodeError(f'max_question_chars must be >= 1, got {self.max_question_chars}')
        if self.sync_queue < 1 or self.qos_depth < 1 or self.ingest_queue < 1:
            raise GeodeError('sync_queue, qos_depth and ingest_queue must be >= 1')
        if not 0 <= self.gil_switch_interval_ms <= 100:
            raise GeodeError('gil_switch_interval_ms must be within [0, 100] ms, got '
                             f'{self.gil_switch_interval_ms}')
        if not self.qos_check_period >= 0:
            raise GeodeError(f'qos_check_period must be >= 0 s, got {self.qos_check_period}')
        if not self.pose_wait >= 0:
            raise GeodeError(f'pose_wait must be >= 0 s, got {self.pose_wait}')
        if isinstance(self.scene, SceneConfig):
            self.scene.validate()
        if isinstance(self.query, QueryConfig):
            self.query.validate()
        if not self.use_rgbd and not self.topics.points:
            raise GeodeError('no input: set use_rgbd true or topics.points to a PointCloud2 topic')

    def up_alignment(self) -> np.ndarray | None:
        """Rotation from the fixed frame to z-up scene memory; None when already z-up."""
        return None if self.world_up == 'z' else rotation_to_z_up(axis_vector(self.world_up))


# ---------------------------------------------------------------- leaves


@dataclass(frozen=True)
class Leaf:
    """One scalar/array field of a nested dataclass: its dotted name, type, default, help."""

    name: str
    type: Any
    default: Any
    help: str
    choices: tuple[Any, ...] = ()


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def leaves(obj: Any, prefix: str = '') -> list[Leaf]:
    """Leaf fields of dataclass instance ``obj`` in declaration order (dotted names)."""
    hints = typing.get_type_hints(type(obj))
    out: list[Leaf] = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out.extend(leaves(value, f'{prefix}{f.name}.'))
            continue
        out.append(Leaf(f'{prefix}{f.name}', _unwrap_optional(hints[f.name]), value,
                        f.metadata.get('help', ''), tuple(f.metadata.get('choices', ()))))
    return out


def _ros_value(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _parameter_type(leaf: Leaf) -> int:
    from rcl_interfaces.msg import ParameterType as P

    tp = leaf.type
    origin = typing.get_origin(tp)
    if tp is bool:
        return P.PARAMETER_BOOL
    if tp is int:
        return P.PARAMETER_INTEGER
    if tp is float:
        return P.PARAMETER_DOUBLE
    if tp in (str, Path):
        return P.PARAMETER_STRING
    if origin in (tuple, list) or tp in (tuple, list):
        elem = next((a for a in typing.get_args(tp) if a is not Ellipsis), None)
        arrays = {bool: P.PARAMETER_BOOL_ARRAY, int: P.PARAMETER_INTEGER_ARRAY,
                  float: P.PARAMETER_DOUBLE_ARRAY, str: P.PARAMETER_STRING_ARRAY}
        if elem in arrays:
            return arrays[elem]
    raise GeodeError(f'config field {leaf.name} has type {tp!r}, which no ROS parameter holds')


# ---------------------------------------------------------------- ROS parameters


def declare_parameters(node: Any, defaults: NodeConfig | None = None) -> list[str]:
    """Declare one typed, described ROS parameter per leaf of ``NodeConfig``; return names."""
    from rcl_interfaces.msg import ParameterDescriptor

    names = []
    for leaf in leaves(defaults or NodeConfig()):
        ptype = _parameter_type(leaf)
        desc = ParameterDescriptor(name=leaf.name, type=ptype, description=leaf.help,
                                   dynamic_typing=leaf.default is None, additional_constraints=(
                                       f'one of {list(leaf.choices)}' if leaf.choices else ''))
        node.declare_parameter(leaf.name, _ros_value(leaf.default), desc)
        names.append(leaf.name)
    return names


def config_from_parameters(node: Any) -> NodeConfig:
    """Read every declared leaf back into a validated ``NodeConfig`` (GeodeError if invalid)."""
    flat: dict[str, Any] = {}
    for leaf in leaves(NodeConfig()):
        value = node.get_parameter(leaf.name).value
        if value is not None and not isinstance(value, (bool, int, float, str)):
            value = list(value)  # array.array / numpy from double and integer arrays
        flat[leaf.name] = value
    return from_dict(NodeConfig, unflatten(flat), where='ROS parameters')


# ---------------------------------------------------------------- YAML


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, float):
        text = repr(value)
        if 'e' in text and '.' not in text:  # 1e-06 -> 1.0e-06 (a float for every YAML reader)
            text = text.replace('e', '.0e', 1)
        return text
    if isinstance(value, list):
        return '[' + ', '.join(_yaml_scalar(v) for v in value) + ']'
    return json.dumps(value)  # str (quoted), bool, int


def default_yaml(defaults: NodeConfig | None = None) -> str:
    """The text of ``config/geode.yaml``: every leaf with its help as a comment."""
    lines = [
        '# geode_node parameters. GENERATED from geode_ros.ros.params.NodeConfig:',
        '#   python -m geode_ros.ros.params config/geode.yaml',
        '# Edit a copy (ros2 launch geode_ros geode.launch.py params_file:=...), not this file.',
        f'{NODE_NAME}:',
        '  ros__parameters:',
    ]
    open_groups: list[str] = []
    for leaf in leaves(defaults or NodeConfig()):
        *groups, key = leaf.name.split('.')
        common = 0
        while common < min(len(groups), len(open_groups)) and groups[common] == open_groups[
            common
        ]:
            common += 1
        for depth, group in enumerate(groups[common:], start=common):
            lines.append(f'{"  " * (depth + 2)}{group}:')
        open_groups = groups
        indent = '  ' * (len(groups) + 2)
        if leaf.help:
            lines.append(f'{indent}# {leaf.help}')
        value = _ros_value(leaf.default)
        if value is None or value == []:
            # ROS parameter files hold neither null nor an untyped empty list.
            lines.append(f'{indent}# {key}: {json.dumps(value)}  (default; set a value to use)')
        else:
            lines.append(f'{indent}{key}: {_yaml_scalar(value)}')
    return '\n'.join(lines) + '\n'


def write_default_yaml(path: str | Path) -> Path:
    """Write ``default_yaml()`` to ``path`` (creating folders); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(default_yaml())
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m geode_ros.ros.params [PATH]``: regenerate config/geode.yaml."""
    args = sys.argv[1:] if argv is None else argv
    print(write_default_yaml(args[0] if args else 'config/geode.yaml'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
