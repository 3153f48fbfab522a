"""A subscriber that only counts: what DDS delivers to a process that does no work.

``geode-bench live --subscriber bare`` starts it in place of geode_node, on the same
topics, with the same QoS matching (``qos_reliability`` auto) and the same counters on
``geode/status`` (``received_*``, ``lost_*``). Frames it does not receive are lost
before any of geode_node's work could matter: in transport or in the publisher.

    python -m geode_ros.cli.bench_bare TOPIC:KEY [TOPIC:KEY ...]
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main(argv: list[str] | None = None) -> int:
    import rclpy
    from rclpy.event_handler import SubscriptionEventCallbacks
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
    from std_msgs.msg import String

    from geode_ros.cli.bench_live import _messages_types
    from geode_ros.ros.ingest import FrameCounters
    from geode_ros.ros.qos import AdaptiveSubscription, SensorInputs

    pairs = [a.rsplit(':', 1) for a in (sys.argv[1:] if argv is None else argv)]
    rclpy.init()
    node = rclpy.create_node('geode_bench_bare')
    counters = FrameCounters(lambda m: None)
    inputs = SensorInputs(counters, lambda m: None)
    types = _messages_types()

    def counting(key: str) -> Any:
        return lambda msg: counters.add(f'received_{key}')

    def lost(key: str) -> Any:
        return lambda status: counters.add(f'lost_{key}', int(status.total_count_change))

    for topic, key in pairs:
        def create(qos: Any, topic: str = topic, key: str = key) -> Any:
            return node.create_subscription(types[key], topic, counting(key), qos,
                                             event_callbacks=SubscriptionEventCallbacks(
                                                 message_lost=lost(key)))
        inputs.add(AdaptiveSubscription(node, key, topic, create, 'auto', 30))
    status = node.create_publisher(String, 'geode/status', 10)
    node.create_timer(0.25, lambda: status.publish(String(data=json.dumps(
        {'active': True, 'node': counters.snapshot(), 'inputs': inputs.states()}))))
    node.create_timer(1.0, inputs.check)
    executor = MultiThreadedExecutor(num_threads=len(pairs) + 1)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
