import json

import numpy as np
import pytest

from geode_ros.data.frames import FramesFolder, read_frames_folder, write_frames_folder
from geode_ros.errors import GeodeError
from geode_ros.scene.synthetic_room import synthetic_frames


def test_round_trip(tmp_path):
    frames = synthetic_frames(3, width=32, height=24)
    frames[0].depth[0, :5] = np.nan
    out = write_frames_folder(frames, tmp_path / 'f')
    meta = json.loads((out / 'intrinsics.json').read_text())
    assert meta['depth_scale'] == 0.001 and meta['width'] == 32
    assert (out / 'frame-000002.depth.png').is_file()
    back = list(read_frames_folder(out))
    assert len(back) == 3
    for a, b in zip(frames, back):
        assert np.array_equal(a.rgb, b.rgb)
        assert np.allclose(np.nan_to_num(a.depth), b.depth, atol=5e-4)
        assert np.allclose(a.T_world_cam, b.T_world_cam, atol=1e-8)
        assert b.intrinsics == a.intrinsics and b.depth.dtype == np.float32
    assert back[0].depth[0, 0] == 0.0 and back[1].stamp == pytest.approx(1 / 30)


def test_jpg_and_errors(tmp_path):
    frames = synthetic_frames(1, width=16, height=12)
    out = write_frames_folder(frames, tmp_path / 'j', color_ext='jpg')
    assert FramesFolder(out)[0].rgb.shape == (12, 16, 3)
    with pytest.raises(GeodeError, match='not found'):
        FramesFolder(tmp_path / 'nope')
    (out / 'frame-000000.pose.txt').write_text('nan ' * 16)
    with pytest.raises(GeodeError):
        FramesFolder(out)[0]
    (out / 'intrinsics.json').write_text('{"fx": 1}')
    with pytest.raises(GeodeError, match='invalid'):
        FramesFolder(out)
    with pytest.raises(GeodeError):
        write_frames_folder([], tmp_path / 'empty')
