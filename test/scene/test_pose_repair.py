"""Poses from real datasets: nearly-orthonormal rotations are repaired, bad ones refused."""

import logging

import numpy as np
import pytest
from transforms3d import euler

from geode_ros.errors import GeodeError
from geode_ros.scene import geometry as g


def _pose(perturbation: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(exact pose, the same with its rotation perturbed by ``perturbation`` per entry)."""
    rng = np.random.default_rng(seed)
    T = np.eye(4)
    T[:3, :3] = euler.euler2mat(*rng.uniform(-3, 3, 3))
    T[:3, 3] = rng.normal(size=3)
    noisy = T.copy()
    noisy[:3, :3] += perturbation * rng.uniform(-1, 1, (3, 3))
    return T, noisy


def test_seven_scenes_like_pose_is_repaired_with_one_warning(caplog):
    g._warned_repair = False
    exact, noisy = _pose(6e-5)  # max |R^T R - I| ~ 1e-4, as 7-Scenes stores them
    assert g.orthonormality_error(noisy[:3, :3]) > g.RIGID_TOL
    with caplog.at_level(logging.WARNING, logger='geode_ros.scene.geometry'):
        fixed = g.check_pose(noisy, 'frame-000000.pose.txt')
        g.check_pose(_pose(6e-5, seed=1)[1])
    assert g.orthonormality_error(fixed[:3, :3]) < 1e-12
    assert np.linalg.det(fixed[:3, :3]) == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(fixed, exact, atol=2e-4)  # the nearest rotation: barely moved
    assert np.array_equal(fixed[:3, 3], noisy[:3, 3])
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and 're-orthonormalised' in warnings[0].getMessage()


def test_exact_pose_passes_unchanged():
    exact, _ = _pose(0.0)
    assert np.array_equal(g.check_pose(exact), exact)


@pytest.mark.parametrize('perturbation', [2e-2, 0.2])
def test_far_from_a_rotation_is_refused_with_the_numbers(perturbation):
    _, noisy = _pose(perturbation)
    err = g.orthonormality_error(noisy[:3, :3])
    assert err > g.REPAIR_TOL
    with pytest.raises(GeodeError, match=r'max \|R\^T R - I\| = [0-9.e-]+ .*accepted up to '
                                         r'0\.01') as exc:
        g.check_pose(noisy, 'pose')
    assert f'{err:.3g}' in str(exc.value)


def test_reflection_is_refused_even_when_orthonormal():
    with pytest.raises(GeodeError, match='det = -1'):
        g.check_pose(np.diag([-1.0, 1.0, 1.0, 1.0]))
