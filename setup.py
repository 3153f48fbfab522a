"""pip install of geode_ros (the ROS 2 build uses CMakeLists.txt instead)."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
VERSION = {}
exec((ROOT / 'geode_ros' / 'version.py').read_text(), VERSION)

requirements = [
    line.strip()
    for line in (ROOT / 'requirements.txt').read_text().splitlines()
    if line.strip() and not line.startswith('#')
]
TEST_ONLY = ('pytest', 'pytest-timeout', 'hypothesis', 'ruff')

setup(
    name='geode_ros',
    version=VERSION['__version__'],
    description='Embodied spatial queries for robots with a GEODE model (DRM + VLM + DRH)',
    long_description=(ROOT / 'README.md').read_text() if (ROOT / 'README.md').exists() else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=['geode_ros', 'geode_ros.*']),
    include_package_data=True,
    install_requires=['torch'] + [r for r in requirements if r.split('>')[0].split('=')[0]
                                  not in TEST_ONLY],
    extras_require={'test': [r for r in requirements if r.startswith(TEST_ONLY)]},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/geode_ros']),
        ('share/geode_ros', ['package.xml']),
    ],
    entry_points={
        'console_scripts': [
            f'geode-{name}=geode_ros.cli.{name}:main'
            for name in ('train', 'eval', 'synth', 'replay', 'demo', 'bench', 'node', 'prepare')
        ],
    },
)
