"""Camera poses taken on their own thread, so large images never delay them.

rclpy takes (and deserialises) messages on the executor's spin thread. With 640x480
images arriving at 30 Hz on a busy CPU, a PoseStamped or /tf message can wait there
for over a second behind the images, and the frames waiting for it time out. A
second node in the same context, spun by its own single-threaded executor, takes
the poses instead.
"""

from __future__ import annotations

import threading
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException

from geode_ros.ros.executors import SingleNodeExecutor


class PoseThread:
    """A helper node ``<name>_poses`` spinning on a daemon thread until ``stop``.

    It ignores the process's global ROS arguments: launch renames every node of the
    process with ``__node:=``, and two nodes called ``geode_node`` confuse the graph
    (``ros2 lifecycle get`` answers "Node not found"). Topic names given to it must
    therefore be resolved by the parent (``Node.resolve_topic_name``).
    """

    def __init__(self, parent: Any) -> None:
        self.node = rclpy.create_node(f'{parent.get_name()}_poses',
                                      namespace=parent.get_namespace(),
                                      context=parent.context,
                                      use_global_arguments=False,
                                      start_parameter_services=False)
        self._executor = SingleNodeExecutor(context=parent.context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name='geode_poses', daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self._executor.spin()
        except (ExternalShutdownException, KeyboardInterrupt):
            pass  # rclpy shut down (Ctrl-C): the main thread tears down

    def stop(self) -> None:
        """Stop spinning and destroy the helper node (idempotent)."""
        self._executor.shutdown(timeout_sec=1.0)
        self._thread.join(timeout=2.0)
        self.node.destroy_node()
