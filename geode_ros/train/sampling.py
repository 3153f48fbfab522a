"""The order in which training records are visited, one seeded epoch at a time.

With ``type_balance`` > 0 the question types are drawn closer to equally often. The
synthetic scenes yield one room-size question each but several of every other type,
so room size is 2.5 % of the data at natural frequencies; ``type_balance=1`` gives every
type the same share of an epoch (a rare type's records repeat, a common type's are
subsampled, differently each epoch).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from geode_ros.errors import GeodeError


def epoch_order(types: Sequence[str], seed: int, type_balance: float = 0.0) -> list[int]:
    """Indices into ``types`` (one per record) for one epoch of ``len(types)`` draws.

    A type with n_t records gets a share of the epoch proportional to n_t ** (1 -
    ``type_balance``): 0 keeps the natural frequencies (a plain shuffle), 1 is uniform.
    """
    if not 0.0 <= type_balance <= 1.0:
        raise GeodeError(f'type_balance must be in [0, 1], got {type_balance}')
    rng = random.Random(seed)
    order = list(range(len(types)))
    if type_balance == 0.0 or not order:
        rng.shuffle(order)
        return order
    by_type: dict[str, list[int]] = {}
    for i, t in enumerate(types):
        by_type.setdefault(t, []).append(i)
    weight = {t: len(idx) ** (1.0 - type_balance) for t, idx in by_type.items()}
    total = sum(weight.values())
    order = []
    for t in sorted(by_type):
        want = round(len(types) * weight[t] / total)
        picks: list[int] = []
        while len(picks) < want:  # whole shuffled passes, so records repeat evenly
            batch = list(by_type[t])
            rng.shuffle(batch)
            picks += batch
        order += picks[:want]
    rng.shuffle(order)
    return order
