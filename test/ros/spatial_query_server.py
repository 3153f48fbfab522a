"""A minimal SpatialQuery server run in a child process by test_interfaces_dds.py.

It answers with values computed from the request, so the test can tell a real
round trip from a default-constructed reply.
"""

import sys

import rclpy
from geode_ros.msg import Box3D
from geode_ros.srv import SpatialQuery
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node


class EchoServer(Node):
    def __init__(self) -> None:
        super().__init__('spatial_query_echo_server')
        self.create_service(SpatialQuery, 'geode/query', self._on_query)

    def _on_query(self, request: SpatialQuery.Request, response: SpatialQuery.Response):
        words = request.question.split()
        response.success = bool(words)
        response.message = '' if words else 'empty question'
        response.answer = ' '.join(reversed(words))
        response.values = [float(len(words)), float(len(request.question))]
        box = Box3D(label=words[-1] if words else '', score=0.5)
        box.size.x, box.size.y, box.size.z = 1.0, 2.0, 3.0
        box.pose.orientation.w = 1.0
        response.boxes = [box]
        response.header.frame_id = request.target_frame or 'map'
        response.header.stamp = self.get_clock().now().to_msg()
        return response


def main() -> None:
    rclpy.init(args=sys.argv)
    node = EchoServer()
    print('ready', flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
