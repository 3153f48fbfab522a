"""geode_ros: embodied spatial queries for robots with a GEODE model (DRM + VLM + DRH)."""

# The rosidl-generated ``geode_ros.msg`` / ``geode_ros.srv`` live in another directory
# (the install prefix) under the same top-level name; let both halves import.
__path__ = __import__('pkgutil').extend_path(__path__, __name__)

from geode_ros.version import __version__  # noqa: E402

__all__ = ['__version__']
