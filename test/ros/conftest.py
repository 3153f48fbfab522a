"""Fixtures of the ROS tests (imports are lazy: without rclpy these tests skip)."""

from __future__ import annotations

import pytest


@pytest.fixture()
def make_node():
    """``make(**params)``: a GeodeNode in this process on a private context (callbacks are
    called directly; no executor), the geometric baseline unless ``model`` is given."""
    import rclpy
    from rclpy.parameter import Parameter

    from geode_ros.ros.node import GeodeNode

    context = rclpy.Context()
    rclpy.init(context=context)
    nodes = []

    def make(**params):
        params.setdefault('model', 'none')
        overrides = [Parameter(k, value=v) for k, v in params.items()]
        node = GeodeNode(context=context, parameter_overrides=overrides)
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.destroy_node()
    rclpy.try_shutdown(context=context)
