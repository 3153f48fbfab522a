"""The node's executors keep spinning when another thread destroys a subscription.

The race (ros2/rclpy#1206) is made deterministic: a waitable added after the
subscription's event handler destroys that subscription while the executor is
building its wait set, i.e. after the handler was marked in use and before it is
added. Plain rclpy executors raise ``InvalidHandle`` out of ``spin_once`` there.
"""

from __future__ import annotations

import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.event_handler import SubscriptionEventCallbacks  # noqa: E402
from rclpy.exceptions import InvalidHandle  # noqa: E402
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from rclpy.waitable import NumberOfEntities, Waitable  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from geode_ros.ros.executors import NodeExecutor, SingleNodeExecutor  # noqa: E402


class DestroyWhileWaiting(Waitable):
    """Destroys ``subscription`` the first time the executor marks this waitable in use."""

    def __init__(self, node, subscription) -> None:
        super().__init__(node.default_callback_group)
        self.node, self.subscription, self.fired = node, subscription, False

    def __enter__(self) -> None:
        if not self.fired:
            self.fired = True
            self.node.destroy_subscription(self.subscription)

    def __exit__(self, *exc) -> None:
        pass

    def get_num_entities(self) -> NumberOfEntities:
        return NumberOfEntities()

    def add_to_wait_set(self, wait_set) -> None:
        pass

    def is_ready(self, wait_set) -> bool:
        return False


def _spin_once_with_race(executor_type):
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('race', context=context)
    executor = executor_type(context=context)
    try:
        events = SubscriptionEventCallbacks(incompatible_qos=lambda _: None)
        subscription = node.create_subscription(String, 'race', lambda _: None,
                                                qos_profile_sensor_data, event_callbacks=events)
        assert subscription.event_handlers, 'the race needs an event handler'
        racer = DestroyWhileWaiting(node, subscription)
        node.add_waitable(racer)  # after the handler in node.waitables
        executor.add_node(node)
        executor.spin_once(timeout_sec=0.05)
        assert racer.fired and subscription not in node.subscriptions
        executor.spin_once(timeout_sec=0.05)  # and it keeps spinning
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)


@pytest.mark.parametrize('executor_type', [NodeExecutor, SingleNodeExecutor])
def test_executor_survives_a_subscription_destroyed_while_it_builds_the_wait_set(executor_type):
    _spin_once_with_race(executor_type)


@pytest.mark.parametrize('executor_type', [MultiThreadedExecutor, SingleThreadedExecutor])
def test_plain_rclpy_executors_fail_there(executor_type):
    """If this starts passing, rclpy fixed the race and ``executors.py`` can go."""
    with pytest.raises(InvalidHandle):
        _spin_once_with_race(executor_type)


def test_an_event_destroyed_after_it_was_ready_is_skipped():
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('race_take', context=context)
    try:
        events = SubscriptionEventCallbacks(incompatible_qos=lambda _: None)
        subscription = node.create_subscription(String, 'race', lambda _: None,
                                                qos_profile_sensor_data, event_callbacks=events)
        handler = subscription.event_handlers[0]
        handler._ready_to_take_data = True  # the wait set said it was ready
        node.destroy_subscription(subscription)
        with pytest.raises(InvalidHandle):
            SingleThreadedExecutor(context=context)._take_waitable(handler)
        handler._ready_to_take_data = True
        assert SingleNodeExecutor(context=context)._take_waitable(handler) is None
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)
