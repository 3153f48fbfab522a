"""Session-wide test settings: isolate DDS traffic of parallel test runs."""

import os
import random

# A random domain per pytest session keeps concurrent runs on one machine apart;
# discovery stays on this host.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random().randint(1, 100)))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
