"""A ROS 2 user's path: ``ros2 launch geode_ros geode.launch.py`` from the venv and from
a colcon workspace, the shipped model by default, poses over /tf, Ctrl-C.

Needs the ros2-cli kit (``../shared/ros2-cli/install.sh .venv``; ``make test`` runs it)
and, for the workspace, ``colcon``; without them these tests skip and say why.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('geode_ros.srv')
from launch_util import (  # noqa: E402
    ALARMING,
    BIN,
    Launched,
    colcon_build,
    colcon_missing,
    copy_package,
    kit_missing,
)

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(420),
              pytest.mark.skipif(kit_missing() is not None, reason=str(kit_missing()))]

if kit_missing() is None:
    from dds_util import CAMERA_FRAME, ROOM_QUESTION, WAIT, Camera  # noqa: E402
    from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

    from geode_ros.ros.params import NodeConfig  # noqa: E402

START = 180.0  # s: ros2 launch + torch + the model on a loaded 2-core machine


def _default_topics() -> dict[str, str]:
    t = NodeConfig().topics
    return {'rgb': t.rgb, 'depth': t.depth, 'camera_info': t.camera_info}


def _assert_clean(launched: Launched, rc: int | None) -> None:
    out = launched.output
    assert rc == 0, f'ros2 launch exited with {rc} after Ctrl-C:\n{out}'
    bad = [w for w in ALARMING if w in out]
    assert not bad, f'alarming output {bad}:\n{out}'


# ------------------------------------------------------------------ from the venv


@pytest.fixture(scope='module')
def venv_launch():
    launched = Launched([str(BIN / 'ros2'), 'launch', 'geode_ros', 'geode.launch.py'])
    cam = None
    try:
        assert launched.wait_for('serving geode/query', START), launched.output
        cam = Camera(_default_topics(), use_tf=True)
        markers: list[MarkerArray] = []
        cam.node.create_subscription(MarkerArray, 'geode/markers', markers.append, 10)
        cam.wait_connected()
        yield launched, cam, markers
    finally:
        if cam is not None:
            cam.close()
        launched.close()


def test_default_launch_loads_the_shipped_model(venv_launch):
    launched, cam, _ = venv_launch
    assert re.search(r'reasoner=GeodeModel from \S*models/geode-tiny', launched.output), \
        launched.output
    assert 'pose source tf_tree' in launched.output  # tf2_msgs is here: poses from /tf
    # the lifecycle state over the node's own get_state service (what `ros2 lifecycle get`
    # calls; the CLI without a daemon hung for a minute in 1 of 3 fresh-clone runs)
    from lifecycle_msgs.srv import GetState

    client = cam.node.create_client(GetState, '/geode_node/get_state')
    assert client.wait_for_service(timeout_sec=WAIT), 'no /geode_node/get_state service'
    state = cam.call(client, GetState.Request())
    assert state.current_state.label == 'active', state.current_state
    reply = cam.query(ROOM_QUESTION)
    assert not reply.success and 'scene memory is empty' in reply.message


def test_model_answers_over_dds_with_poses_from_tf(venv_launch):
    _, cam, markers = venv_launch
    cam.turn(timeout=120.0)
    cam.wait_status(lambda s: s['keyframes'] >= 5, timeout=120.0)
    room = cam.query(ROOM_QUESTION)
    assert room.success, room.message
    assert room.answer.strip() and len(room.values) == 1 and room.values[0] > 0
    where = cam.query('Where is the sofa? Give its 3D bounding box.')
    assert where.success and where.answer.strip(), where.message
    deadline = time.monotonic() + WAIT
    while not markers and time.monotonic() < deadline:
        time.sleep(0.1)
    assert markers, 'no MarkerArray on geode/markers after an answer'
    if where.boxes:
        assert Marker.CUBE in [m.type for m in markers[-1].markers]


def test_target_frame_applies_to_the_reply(venv_launch):
    """The launch test room is empty: "where is the sofa?" is answered "not found", with no
    box to transform, in the requested frame. Box text and boxes moved alike into a
    target frame are checked in test_query_contract.py."""
    _, cam, _ = venv_launch
    reply = cam.query('Where is the sofa? Give its 3D bounding box.', target_frame=CAMERA_FRAME)
    assert reply.success, reply.message
    assert reply.header.frame_id == CAMERA_FRAME
    assert not reply.boxes and reply.answer.startswith('No sofa found'), reply.answer


def test_ctrl_c_exits_zero_without_traceback(venv_launch):
    launched, _, _ = venv_launch
    rc = launched.interrupt()
    _assert_clean(launched, rc)
    assert 'process has finished cleanly' in launched.output


# ------------------------------------------------------------------ colcon workspace


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    reason = colcon_missing()
    if reason:
        pytest.skip(reason)
    ws = tmp_path_factory.mktemp('colcon_ws')
    copy_package(ws / 'src' / 'geode_ros')
    t0 = time.monotonic()
    result = colcon_build(ws)
    print(f'colcon build: {time.monotonic() - t0:.1f} s')
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return ws


def test_colcon_build_installs_node_launch_config_rviz_and_model(workspace):
    prefix = workspace / 'install' / 'geode_ros'
    share = prefix / 'share' / 'geode_ros'
    for rel in ('launch/geode.launch.py', 'config/geode.yaml', 'config/geode.rviz',
                'models/geode-tiny/model.safetensors', 'models/geode-tiny/config.json',
                'package.xml'):
        assert (share / rel).is_file(), rel
    node = prefix / 'lib' / 'geode_ros' / 'geode_node'
    assert node.is_file() and node.stat().st_mode & 0o111
    site = next((prefix / 'lib').glob('python3*/site-packages/geode_ros'))
    for rel in ('__init__.py', 'ros/node.py', 'msg/_box3_d.py', 'srv/_spatial_query.py'):
        assert (site / rel).is_file(), rel
    assert 'extend_path' in (site / '__init__.py').read_text()  # ours, not the generated one


def test_launch_from_the_workspace(workspace):
    setup = workspace / 'install' / 'setup.bash'
    script = (f'source {setup} && ros2 pkg prefix geode_ros && '
              'exec ros2 launch geode_ros geode.launch.py')
    launched = Launched(['bash', '-c', script], cwd=workspace)
    try:
        assert launched.wait_for('serving geode/query', START), launched.output
        prefix = str(workspace / 'install' / 'geode_ros')
        assert launched.output.splitlines()[0] == prefix, launched.output
        assert f'reasoner=GeodeModel from {prefix}/share/geode_ros/models/geode-tiny' in \
            launched.output, launched.output
        rc = launched.interrupt()
    finally:
        launched.close()
    out = launched.output.replace("doesn't contain any 'local_setup.*' files", '')
    assert rc == 0 and not [w for w in ALARMING if w in out], out


def test_ros2_run_finds_the_node_executable(workspace):
    setup = workspace / 'install' / 'setup.bash'
    result = subprocess.run(['bash', '-c', f'source {setup} && ros2 pkg executables geode_ros'],
                            capture_output=True, text=True, timeout=60)
    assert 'geode_ros geode_node' in result.stdout, result.stdout + result.stderr
