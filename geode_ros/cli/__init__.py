"""geode_ros.cli."""
