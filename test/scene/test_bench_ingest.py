import json

from geode_ros.cli import bench


def test_bench_ingest_runs_and_agrees(frames_dir, tmp_path, capsys):
    out = tmp_path / 'ingest.json'
    assert bench.main(['ingest', '--frames', str(frames_dir), '--json', str(out),
                       '--repeat', '1', '--limit', '4']) == 0
    res = json.loads(out.read_text())
    for key in ('ours_fps', 'open3d_fps', 'speedup', 'points_ours', 'points_open3d',
                'chamfer_m'):
        assert key in res
    assert abs(res['points_ours'] - res['points_open3d']) <= 0.01 * res['points_open3d'] + 2
    assert res['chamfer_m'] < 1e-3
    assert 'speedup' in capsys.readouterr().out


def test_bench_memory_small(tmp_path):
    out = tmp_path / 'mem.json'
    assert bench.main(['memory', '--frames', '200', '--max-points', '5000',
                       '--max-keyframes', '4', '--json', str(out)]) == 0
    res = json.loads(out.read_text())
    assert res['points'] <= 5000 and res['keyframes'] == 4


def test_bench_errors_are_one_line(tmp_path, capsys):
    assert bench.main(['ingest', '--frames', str(tmp_path / 'missing')]) == 2
    assert 'not found' in capsys.readouterr().err
