import numpy as np
import pytest
from transforms3d import euler

from geode_ros.errors import GeodeError
from geode_ros.scene import geometry as g


def test_quat_round_trip_and_order():
    q = g.yaw_to_quat_xyzw(np.pi / 2)  # (x, y, z, w)
    R = g.quat_xyzw_to_matrix(q)
    assert np.allclose(R @ [1, 0, 0], [0, 1, 0])
    assert np.allclose(g.matrix_to_quat_xyzw(R), q)


def test_pose_compose_invert():
    rng = np.random.default_rng(0)
    Ts = []
    for _ in range(3):
        R = euler.euler2mat(*rng.uniform(-3, 3, 3))
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = R, rng.normal(size=3)
        Ts.append(T)
    T_ac = g.compose(*Ts)
    assert np.allclose(T_ac, Ts[0] @ Ts[1] @ Ts[2])
    assert np.allclose(g.compose(T_ac, g.invert_transform(T_ac)), np.eye(4))
    t, q = g.matrix_to_pose(T_ac)
    assert np.allclose(g.pose_to_matrix(t, q), T_ac)


@pytest.mark.parametrize('bad', [np.full((4, 4), np.nan), np.eye(3), np.diag([2.0, 1, 1, 1]),
                                 np.diag([-1.0, 1, 1, 1]), 'x'])
def test_check_pose_rejects(bad):
    with pytest.raises(GeodeError):
        g.check_pose(bad)


def test_bad_quaternion():
    with pytest.raises(GeodeError):
        g.quat_xyzw_to_matrix([0, 0, 0, 0])
