"""Launch geode_node (a lifecycle node), optionally with RViz.

    ros2 launch geode_ros geode.launch.py \
        rgb_topic:=/camera/color/image_raw depth_topic:=/camera/aligned_depth_to_color/image_raw

Defaults live only in config/geode.yaml (generated from geode_ros.ros.params); an
argument left empty keeps the value of ``params_file``. The node configures and
activates itself when its ``autostart`` parameter is true (the default).
"""

import tempfile

import yaml
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

NODE_NAME = 'geode_node'
# launch argument -> (parameter it overrides when not empty, help)
OVERRIDES = {
    'model': ('model', 'Model directory or shipped model name; empty = value in params_file '
                       '(geode-tiny); none = geometric baseline.'),
    'rgb_topic': ('topics.rgb', 'Colour image topic.'),
    'depth_topic': ('topics.depth', 'Depth image topic registered to the colour image.'),
    'camera_info_topic': ('topics.camera_info', 'CameraInfo topic of the colour camera.'),
    'points_topic': ('topics.points', 'Optional PointCloud2 topic.'),
    'pose_topic': ('topics.pose', 'PoseStamped topic (pose_source topic).'),
    'pose_source': ('pose_source', 'tf, topic or auto.'),
    'fixed_frame': ('scene.fixed_frame', 'Fixed frame of the scene memory.'),
    'world_up': ('world_up', 'Up axis of the fixed frame: z (ROS maps), or -y, y, x, -x, -z '
                             'for a tracker world such as a y-down visual-SLAM map.'),
    'autostart': ('autostart', 'Configure + activate at start: true or false.'),
}
BOOLEANS = {'autostart'}


def _node_params_file(path: str) -> str:
    """Copy geode_node's section of ``path`` under ``/**`` so it applies in any namespace."""
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    params = {}
    for key, section in data.items():
        if key.strip('/').split('/')[-1] in (NODE_NAME, '**') and 'ros__parameters' in section:
            params = section['ros__parameters']
            break
    with tempfile.NamedTemporaryFile('w', prefix='geode_params_', suffix='.yaml',
                                     delete=False) as out:
        yaml.safe_dump({'/**': {'ros__parameters': params}}, out)
    return out.name


def _launch_node(context):
    params_file = _node_params_file(LaunchConfiguration('params_file').perform(context))
    overrides = {}
    for arg, (name, _) in OVERRIDES.items():
        value = LaunchConfiguration(arg).perform(context).strip()
        if value:
            overrides[name] = value.lower() in ('true', '1', 'yes') if arg in BOOLEANS else value
    node = LifecycleNode(
        package='geode_ros',
        executable='geode_node',
        name=NODE_NAME,
        namespace=LaunchConfiguration('namespace'),
        parameters=[params_file, overrides],
        output='screen',
        emulate_tty=True,
    )
    return [node]


def generate_launch_description():
    share = FindPackageShare('geode_ros')
    args = [
        DeclareLaunchArgument(
            'params_file', default_value=PathJoinSubstitution([share, 'config', 'geode.yaml']),
            description='Parameter file with a geode_node: ros__parameters: section.'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of the node and its topics.'),
        DeclareLaunchArgument('rviz', default_value='false',
                              description='Start RViz2 with config/geode.rviz: true or false.'),
    ]
    args += [DeclareLaunchArgument(arg, default_value='', description=help_)
             for arg, (_, help_) in OVERRIDES.items()]
    rviz = Node(
        package='rviz2',
        executable='rviz2',
        name='geode_rviz',
        arguments=['-d', PathJoinSubstitution([share, 'config', 'geode.rviz'])],
        condition=IfCondition(LaunchConfiguration('rviz')),
        output='log',
    )
    return LaunchDescription([*args, OpaqueFunction(function=_launch_node), rviz])
