"""ApproximateTimeSync: message_filters-like matching, pure Python (no ROS)."""

import threading

import pytest

from geode_ros.errors import GeodeError
from geode_ros.ros.sync import ApproximateTimeSync


def _collect(n=3, queue=10, slop=0.05):
    out = []
    sync = ApproximateTimeSync(n, queue, slop, lambda *m: out.append(m))
    return sync, out


def test_exact_stamps_match_once_in_input_order():
    sync, out = _collect()
    assert sync.add(0, 1.0, 'rgb') is None
    assert sync.add(2, 1.0, 'info') is None
    assert sync.add(1, 1.0, 'depth') == ('rgb', 'depth', 'info')
    assert out == [('rgb', 'depth', 'info')]
    assert sync.queued() == [0, 0, 0]


def test_approximate_match_within_slop_and_none_beyond():
    sync, out = _collect(n=2, slop=0.02)
    sync.add(0, 1.000, 'a1')
    assert sync.add(1, 1.030, 'b1') is None  # 30 ms > slop
    sync.add(0, 1.025, 'a2')
    assert out == [('a2', 'b1')]


def test_closest_candidate_wins_and_older_messages_are_dropped():
    sync, out = _collect(n=2, slop=0.05)
    for i, t in enumerate((1.00, 1.03, 1.06)):
        sync.add(0, t, f'a{i}')
    sync.add(1, 1.05, 'b')
    assert out == [('a2', 'b')]  # 1.06 is 10 ms away, 1.03 is 20 ms
    assert sync.queued() == [0, 0]  # a0, a1 are older than the match: dropped
    assert sync.dropped == 2


def test_queue_size_bounds_memory():
    sync, out = _collect(n=2, queue=3)
    for i in range(10):
        sync.add(0, float(i), i)
    assert sync.queued() == [3, 0]
    assert out == []
    assert sync.add(1, 9.0, 'b') == (9, 'b')


def test_stream_with_jitter_matches_every_frame():
    sync, out = _collect(n=3, queue=5, slop=0.01)
    for k in range(50):
        t = k / 30.0
        sync.add(1, t + 0.003 * ((k % 3) - 1), ('d', k))
        sync.add(0, t, ('c', k))
        sync.add(2, t, ('i', k))
    assert len(out) == 50
    assert all(m[0][1] == m[1][1] == m[2][1] for m in out)


def test_threads_adding_concurrently_never_lose_the_lock():
    sync, out = _collect(n=2, queue=1000, slop=0.001)

    def feed(index):
        for k in range(300):
            sync.add(index, k * 0.1, (index, k))

    threads = [threading.Thread(target=feed, args=(i,)) for i in (0, 1)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(m[0][1] for m in out) == list(range(300))  # each pair once, none lost
    assert all(a[1] == b[1] for a, b in out)


@pytest.mark.parametrize('args', [(1, 10, 0.1), (2, 0, 0.1), (2, 10, -1.0)])
def test_bad_settings_raise_geode_error(args):
    with pytest.raises(GeodeError):
        ApproximateTimeSync(*args)


def test_bad_input_index_raises():
    sync, _ = _collect(n=2)
    with pytest.raises(GeodeError):
        sync.add(5, 0.0, 'x')


def test_default_slop_never_pairs_a_lost_image_with_its_neighbour_at_30_hz():
    from geode_ros.ros.params import NodeConfig

    slop = NodeConfig().sync_slop
    assert slop < 0.5 / 30.0
    sets = []
    sync = ApproximateTimeSync(3, 10, slop, lambda *m: sets.append(m))
    for k in range(30):
        t = 100.0 + k / 30.0
        for i in range(3):
            if not (i == 0 and k % 7 == 3):  # some RGB images lost in transport
                sync.add(i, t + 0.002 * i, (k, i))  # a little jitter between streams
    assert len(sets) == 30 - 4  # k = 3, 10, 17, 24 lost their RGB: no set for them
    assert all(len({k for k, _ in s}) == 1 for s in sets)  # every set from one frame
