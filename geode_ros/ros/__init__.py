"""ROS 2 layer of geode_ros: the lifecycle node and pure message conversions.

Modules: ``conversions`` (messages <-> numpy / our types), ``markers`` (answer
boxes -> MarkerArray), ``sync`` (approximate-time synchroniser), ``tf`` (pose
sources), ``pose_thread`` (poses taken on their own executor thread), ``ingest``
(frame accounting and the ingest thread), ``sensors`` (sync -> queue -> engine),
``query`` (the service contract), ``model_path`` (the ``model`` parameter),
``params`` (NodeConfig <-> ROS parameters and config/geode.yaml), ``node``
(``GeodeNode`` and ``main``). Nothing is imported here: rclpy is only needed by the
modules that use it.
"""
