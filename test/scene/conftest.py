"""Fixtures for scene tests: a tiny analytic box room and its frames folder."""

from pathlib import Path

import pytest

from geode_ros.data.frames import write_frames_folder
from geode_ros.scene.synthetic_room import synthetic_frames


@pytest.fixture(scope='session')
def room_frames():
    """12 frames, 64x48, of a 5 x 4 x 2.6 m room from a camera turning in place."""
    return synthetic_frames(12, width=64, height=48)


@pytest.fixture(scope='session')
def frames_dir(tmp_path_factory, room_frames) -> Path:
    return write_frames_folder(room_frames, tmp_path_factory.mktemp('frames'))
