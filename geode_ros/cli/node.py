"""``geode-node``: run the ROS 2 node (all settings are ROS parameters: ``--ros-args -p ...``)."""

from __future__ import annotations

import argparse
import sys

from geode_ros.version import __version__


def main(argv: list[str] | None = None) -> int:
    """Parse ``--version`` / ``--help``, hand everything else (``--ros-args``) to rclpy."""
    argv = list(sys.argv[1:] if argv is None else argv)
    own = argv[:argv.index('--ros-args')] if '--ros-args' in argv else argv
    parser = argparse.ArgumentParser(
        prog='geode-node',
        description='GEODE spatial-query lifecycle node. Settings are ROS parameters, e.g. '
                    'geode-node --ros-args -p model:=/path/to/model --params-file geode.yaml',
    )
    parser.add_argument('--version', action='version', version=f'geode-node {__version__}')
    parser.parse_known_args(own)

    from geode_ros.ros.node import main as node_main

    return node_main(['geode-node', *argv])


if __name__ == '__main__':
    sys.exit(main())
