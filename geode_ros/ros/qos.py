"""Sensor subscriptions that match any publisher: reliability follows what is offered.

A reliable reader never matches a best-effort writer (a sensor-data driver is then not
received at all), and a best-effort reader matches both but lets a reliable writer's
lost fragments go unrepaired. ``qos_reliability: auto`` (the default) takes the best of
both, as ``ros2 bag record`` does: reliable while every publisher on the topic offers
reliable, best effort as soon as one offers best effort or while there is none yet (REP
2003's choice, which matches whatever appears). ``AdaptiveSubscription.update`` re-checks
the publishers and re-creates the subscription when the choice changes; the node calls it
on a timer, so a publisher that appears later is matched within ``qos_check_period``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

RELIABLE, BEST_EFFORT = 'reliable', 'best_effort'
POLICY = {RELIABLE: ReliabilityPolicy.RELIABLE, BEST_EFFORT: ReliabilityPolicy.BEST_EFFORT}


def sensor_qos(reliability: str, depth: int) -> QoSProfile:
    """KEEP_LAST ``depth``, volatile (the sensor-data profile) with ``reliability``."""
    return QoSProfile(depth=depth, reliability=POLICY[reliability],
                      durability=qos_profile_sensor_data.durability,
                      history=qos_profile_sensor_data.history)


def offered_reliability(infos: list[Any]) -> list[str]:
    """The reliability each publisher (``TopicEndpointInfo``) offers, as our names."""
    return [RELIABLE if i.qos_profile.reliability == ReliabilityPolicy.RELIABLE
            else BEST_EFFORT for i in infos]


def choose_reliability(mode: str, offered: list[str]) -> str:
    """The reader reliability for ``mode`` given what the publishers offer (see module)."""
    if mode != 'auto':
        return mode
    return RELIABLE if offered and all(o == RELIABLE for o in offered) else BEST_EFFORT


@dataclass
class AdaptiveSubscription:
    """One sensor subscription whose reliability follows ``choose_reliability``.

    Args:
        node: the rclpy node that owns it; topic: as given (resolved against the node).
        create: ``create(qos) -> handle`` makes the subscription with a QoS profile.
        mode: 'auto', 'reliable' or 'best_effort'; depth: the history depth.
    """

    node: Any
    name: str
    topic: str
    create: Callable[[QoSProfile], Any]
    mode: str
    depth: int
    handle: Any = None
    reliability: str = ''
    offered: list[str] = field(default_factory=list)
    switches: int = 0
    incompatible: int = 0  # QoS-incompatible publishers DDS reported to this subscription

    @property
    def resolved(self) -> str:
        return self.node.resolve_topic_name(self.topic)

    def update(self) -> bool:
        """Re-check the publishers; (re)create the subscription if needed. True if it was."""
        self.offered = offered_reliability(self.node.get_publishers_info_by_topic(self.resolved))
        wanted = choose_reliability(self.mode, self.offered)
        if self.handle is not None and wanted == self.reliability:
            return False
        self.destroy()
        self.handle = self.create(sensor_qos(wanted, self.depth))
        self.switches += int(bool(self.reliability))
        self.reliability, self.incompatible = wanted, 0
        return True

    def destroy(self) -> None:
        if self.handle is not None:
            self.node.destroy_subscription(self.handle)
            self.handle = None

    def state(self) -> dict[str, Any]:
        """What ``geode/status`` and the empty-memory reply tell about this input."""
        return {'topic': self.resolved, 'reliability': self.reliability,
                'publishers': len(self.offered), 'offered': list(self.offered),
                'incompatible': self.incompatible, 'switches': self.switches}


class SensorInputs:
    """The node's sensor subscriptions by input name, re-matched to their publishers.

    ``check`` runs on the node's timer; ``states`` feeds ``geode/status`` and the
    empty-memory reply. A lock keeps re-creation apart from teardown (deactivate).
    """

    def __init__(self, counters: Any, log: Callable[[str], None]) -> None:
        self.counters, self.log = counters, log
        self._subs: dict[str, AdaptiveSubscription] = {}
        self._lock = threading.Lock()

    def add(self, sub: AdaptiveSubscription) -> None:
        with self._lock:
            sub.update()
            self._subs[sub.name] = sub

    def check(self) -> None:
        """Re-match each input's reliability to its publishers (qos_reliability auto)."""
        with self._lock:
            for name, sub in self._subs.items():
                try:
                    if sub.update():
                        self.counters.add(f'qos_switch_{name}')
                        self.log(f'{sub.resolved}: publishers offer {sub.offered}; '
                                 f'subscribed {sub.reliability}')
                except Exception as exc:  # noqa: BLE001 - a graph query never kills the node
                    self.counters.problem('qos_check', f'could not re-check {sub.topic}: {exc}')

    def incompatible(self, name: str) -> None:
        """DDS reported a publisher whose QoS does not match input ``name``."""
        sub = self._subs.get(name)
        if sub is not None:
            sub.incompatible += 1

    def states(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: sub.state() for name, sub in self._subs.items()}

    def destroy(self) -> None:
        with self._lock:
            for sub in self._subs.values():
                sub.destroy()
            self._subs = {}
