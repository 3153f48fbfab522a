"""Fixtures for query-layer tests: the analytic box room of the scene tests."""

import pytest

from geode_ros.scene.synthetic_room import synthetic_frames


@pytest.fixture(scope='session')
def room_frames():
    """12 frames, 64x48, of a 5 x 4 x 2.6 m room from a camera turning in place."""
    return synthetic_frames(12, width=64, height=48)
