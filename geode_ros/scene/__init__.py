"""geode_ros.scene."""
