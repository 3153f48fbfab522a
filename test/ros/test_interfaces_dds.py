"""The generated interfaces work across processes over real DDS."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip('rclpy')
from geode_ros.msg import Box3D  # noqa: E402
from geode_ros.srv import SpatialQuery  # noqa: E402

SERVER = Path(__file__).with_name('spatial_query_server.py')


def test_generated_types_have_the_designed_fields():
    request = SpatialQuery.Request()
    assert set(request.get_fields_and_field_types()) == {
        'question', 'kind', 'objects', 'reference', 'unit', 'target_frame'}
    response = SpatialQuery.Response()
    assert set(response.get_fields_and_field_types()) == {
        'success', 'status', 'message', 'answer', 'program', 'kind', 'objects', 'reference',
        'values', 'units', 'boxes', 'header'}
    assert response.get_fields_and_field_types()['boxes'] == 'sequence<geode_ros/Box3D>'
    assert set(Box3D.get_fields_and_field_types()) == {'label', 'score', 'pose', 'size',
                                                       'last_seen'}


@pytest.fixture()
def echo_server():
    proc = subprocess.Popen([sys.executable, str(SERVER)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == 'ready'
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the server's normal exit
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # not what this test is about: do not hang CI
            proc.kill()
            proc.wait()


def _call(node, client, request, timeout=30.0):
    future = client.call_async(request)
    deadline = time.monotonic() + timeout
    while not future.done() and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    assert future.done(), 'no reply from the server process'
    return future.result()


def test_service_round_trip_between_processes(echo_server):
    rclpy.init()
    try:
        node = rclpy.create_node('spatial_query_test_client')
        client = node.create_client(SpatialQuery, 'geode/query')
        assert client.wait_for_service(timeout_sec=30.0), 'service never appeared over DDS'
        reply = _call(node, client, SpatialQuery.Request(
            question='how far is the chair', target_frame='odom'))
        assert reply.success and reply.message == ''
        assert reply.answer == 'chair the is far how'
        assert list(reply.values) == [5.0, 20.0]
        assert reply.header.frame_id == 'odom'
        assert len(reply.boxes) == 1
        box = reply.boxes[0]
        assert box.label == 'chair' and box.score == 0.5
        assert (box.size.x, box.size.y, box.size.z) == (1.0, 2.0, 3.0)
        empty = _call(node, client, SpatialQuery.Request(question=''))
        assert not empty.success and empty.message == 'empty question'
        assert empty.header.frame_id == 'map'
        node.destroy_node()
    finally:
        rclpy.try_shutdown()
