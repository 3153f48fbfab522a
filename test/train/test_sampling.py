"""Epoch order: natural frequencies, or question types balanced."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from geode_ros.errors import GeodeError
from geode_ros.train.sampling import epoch_order


def test_natural_order_is_a_seeded_permutation():
    types = ['count'] * 30 + ['room'] * 3
    order = epoch_order(types, seed=7)
    assert sorted(order) == list(range(33))
    assert order == epoch_order(types, seed=7) != epoch_order(types, seed=8)
    expected = list(range(33))
    random.Random(7).shuffle(expected)  # what the trainer always did, so old runs resume
    assert order == expected


def test_full_balance_draws_every_type_equally_and_spreads_repeats():
    types = ['count'] * 60 + ['room'] * 6 + ['size'] * 24
    order = epoch_order(types, seed=0, type_balance=1.0)
    assert len(order) == 90
    drawn = Counter(types[i] for i in order)
    assert drawn == {'count': 30, 'room': 30, 'size': 30}
    rooms = Counter(i for i in order if types[i] == 'room')
    assert set(rooms.values()) == {5}  # each of the 6 room records 5 times
    counts = [i for i in order if types[i] == 'count']
    assert len(set(counts)) == 30  # a common type is subsampled without repeats


def test_partial_balance_sits_between_and_bad_values_are_refused():
    types = ['count'] * 64 + ['room'] * 4
    drawn = Counter(types[i] for i in epoch_order(types, seed=0, type_balance=0.5))
    assert 4 < drawn['room'] < 34  # sqrt weights: 68 * 2 / 10 = 13.6
    assert drawn['room'] == 14
    with pytest.raises(GeodeError, match='type_balance'):
        epoch_order(types, seed=0, type_balance=1.5)
