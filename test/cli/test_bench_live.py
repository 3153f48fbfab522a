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
                       '--height', '120', '--views', '24', '--model', 'none',
                       '--json', str(out)]) == 0
    result = json.loads(out.read_text())
    assert result['qos'] == 'auto' and result['width'] == 160
    assert [(r['publisher_qos'], r['rate_hz']) for r in result['rates']] == [
        ('reliable', 15.0), ('reliable', 30.0), ('best_effort', 15.0), ('best_effort', 30.0)]
    for r in result['rates']:  # the node's auto QoS followed each publisher
        assert set(r['node_reliability'].values()) == {r['publisher_qos']}, r
        assert r['unaccounted'] == 0  # the node's own share of the loss
        assert r['published'] == int(r['rate_hz'] * 3)
        assert max(r['received_rgb'], r['received_depth']) <= r['published']
        assert r['synced'] <= min(r['received_rgb'], r['received_depth'])
        assert r['fused'] + sum(r['skipped'].values()) == r['synced']
        assert r['fused_or_skipped_pct'] >= 90.0  # small frames fit any transport
    r = result['rates'][0]
    assert r['achieved_hz'] == pytest.approx(15.0, rel=0.1)
    assert 'fused or skipped' in capsys.readouterr().out
    # Every frame fused with its own pose and its own images: the node's cloud is the
    # cloud of fusing the same frames offline (a frame paired with a neighbour's depth
    # or pose adds misplaced points).
    cloud = result['cloud']
    assert cloud['node_points'] == pytest.approx(cloud['offline_points'], rel=0.05)


def test_bare_subscriber_counts_what_dds_delivers(tmp_path):
    out = tmp_path / 'bare.json'
    assert bench.main(['live', '--subscriber', 'bare', '--rates', '15', '--seconds', '2',
                       '--width', '160', '--height', '120', '--views', '24',
                       '--publisher-qos', 'best_effort', '--json', str(out)]) == 0
    (r,) = json.loads(out.read_text())['rates']
    assert r['node_reliability']['rgb'] == 'best_effort'
    assert r['received_rgb'] >= 0.9 * r['published'] and r['fused'] == 0
