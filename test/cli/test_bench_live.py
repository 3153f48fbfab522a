"""``geode-bench live`` end to end: a real geode_node process, frames over DDS, its counters."""

from __future__ import annotations

import json

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('geode_ros.srv')

from geode_ros.cli import bench  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(240)]


def test_live_bench_accounts_for_every_frame(tmp_path, capsys):
    out = tmp_path / 'live.json'
    assert bench.main(['live', '--rates', '15', '30', '--seconds', '3', '--width', '160',
                       '--height', '120', '--json', str(out)]) == 0
    result = json.loads(out.read_text())
    assert result['qos'] == 'reliable' and result['width'] == 160
    r, r30 = result['rates']
    assert r['published'] == 45 and r['achieved_hz'] == pytest.approx(15.0, rel=0.1)
    assert r30['published'] == 90 and r30['unaccounted'] == 0
    assert r['unaccounted'] == 0  # the node's own share of the loss
    assert max(r['received_rgb'], r['received_depth']) <= r['published']
    assert r['synced'] <= min(r['received_rgb'], r['received_depth'])
    skipped = sum(r['skipped'].values())
    assert r['fused'] + skipped == r['synced']
    assert r['fused_or_skipped_pct'] >= 90.0  # small frames, reliable: nothing lost
    assert 'fused or skipped' in capsys.readouterr().out
    # Every frame fused with its own pose and its own images: the node's cloud is the
    # cloud of fusing the same frames offline (a frame paired with a neighbour's depth
    # or pose adds misplaced points).
    cloud = result['cloud']
    assert cloud['node_points'] == pytest.approx(cloud['offline_points'], rel=0.05)
