"""NodeConfig is the one source of parameter defaults: ROS parameters and config/geode.yaml."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from geode_ros.config import to_dict
from geode_ros.errors import GeodeError
from geode_ros.ros.params import NODE_NAME, NodeConfig, default_yaml, leaves, write_default_yaml

ROOT = Path(__file__).resolve().parents[2]


def test_committed_yaml_is_generated_from_the_dataclasses():
    committed = (ROOT / 'config' / 'geode.yaml').read_text()
    assert committed == default_yaml(), (
        'config/geode.yaml is stale: run python -m geode_ros.ros.params config/geode.yaml')


def test_yaml_values_equal_the_dataclass_defaults(tmp_path):
    path = write_default_yaml(tmp_path / 'sub' / 'geode.yaml')
    params = yaml.safe_load(path.read_text())[NODE_NAME]['ros__parameters']
    expected = to_dict(NodeConfig())
    # Keys whose default ROS files cannot hold (null, empty list) are comments.
    for leaf in leaves(NodeConfig()):
        node_e, node_p = expected, params
        *parents, key = leaf.name.split('.')
        for p in parents:
            node_e, node_p = node_e[p], node_p[p]
        if node_e[key] is None or node_e[key] == []:
            assert key not in node_p
        else:
            assert node_p[key] == node_e[key] and type(node_p[key]) is type(node_e[key])


def test_every_leaf_has_help():
    missing = [leaf.name for leaf in leaves(NodeConfig()) if not leaf.help]
    assert missing == []


def test_invalid_settings_raise_geode_error():
    with pytest.raises(GeodeError, match='pose_source'):
        NodeConfig(pose_source='gps')
    with pytest.raises(GeodeError, match='qos_reliability'):
        NodeConfig(qos_reliability='sometimes')
    with pytest.raises(GeodeError, match='no input'):
        NodeConfig(use_rgbd=False)


def test_parameters_declared_described_and_read_back():
    rclpy = pytest.importorskip('rclpy')
    from rclpy.parameter import Parameter

    from geode_ros.ros.params import config_from_parameters, declare_parameters

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node('params_probe', context=context, parameter_overrides=[
            Parameter('scene.voxel_size_m', value=0.1),
            Parameter('topics.rgb', value='cam/rgb'),
            Parameter('pose_source', value='topic'),
        ])
        names = declare_parameters(node)
        assert names == [leaf.name for leaf in leaves(NodeConfig())]
        for name in names:
            desc = node.describe_parameter(name)
            assert desc.description and desc.type != 0, name
        cfg = config_from_parameters(node)
        assert cfg.scene.voxel_size_m == 0.1 and cfg.topics.rgb == 'cam/rgb'
        assert cfg.pose_source == 'topic'
        assert cfg.scene.max_points == NodeConfig().scene.max_points
        node.set_parameters([Parameter('qos_reliability', value='bogus')])
        with pytest.raises(GeodeError, match='qos_reliability'):
            config_from_parameters(node)
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_launch_file_is_valid_python_with_the_documented_arguments():
    source = (ROOT / 'launch' / 'geode.launch.py').read_text()
    tree = ast.parse(source)
    assert any(isinstance(n, ast.FunctionDef) and n.name == 'generate_launch_description'
               for n in tree.body)
    for arg in ('params_file', 'model', 'namespace', 'rgb_topic', 'depth_topic',
                'camera_info_topic', 'points_topic', 'pose_topic', 'rviz', 'autostart'):
        assert f"'{arg}'" in source, arg


def test_rviz_config_shows_image_cloud_markers_and_detections():
    rviz = yaml.safe_load((ROOT / 'config' / 'geode.rviz').read_text())
    displays = rviz['Visualization Manager']['Displays']
    classes = {d['Class'] for d in displays}
    assert {'rviz_default_plugins/Image', 'rviz_default_plugins/PointCloud2',
            'rviz_default_plugins/MarkerArray',
            'vision_msgs_rviz_plugins/Detection3DArray'} <= classes
    topics = {d.get('Topic', {}).get('Value') for d in displays}
    assert {'/geode/cloud', '/geode/markers', '/geode/detections'} <= topics


def test_cli_version():
    out = subprocess.run([sys.executable, '-m', 'geode_ros.cli.node', '--version'],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and 'geode-node' in out.stdout


@pytest.mark.skipif(shutil.which('ruff', path=str(Path(sys.executable).parent)) is None,
                    reason='ruff is not installed in this environment')
def test_ros_layer_is_ruff_clean():
    ruff = shutil.which('ruff', path=str(Path(sys.executable).parent))
    paths = ['geode_ros/ros', 'geode_ros/cli/node.py', 'test/ros', 'launch']
    result = subprocess.run([ruff, 'check', *paths], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_malloc_arenas_are_capped_unless_the_user_chose(monkeypatch):
    from geode_ros.ros.process import limit_malloc_arenas

    monkeypatch.setenv('MALLOC_ARENA_MAX', '4')
    assert limit_malloc_arenas() is False  # the user's setting wins
    monkeypatch.delenv('MALLOC_ARENA_MAX')
    assert limit_malloc_arenas() is sys.platform.startswith('linux')  # glibc here
