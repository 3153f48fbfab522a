"""GEODE model: a Hugging Face VLM plus the DRM (3D rationale tokens) and the DRH (regression).

Nothing heavy is imported here; import the submodules you need, e.g.
``from geode_ros.model.geode import GeodeModel``.
"""

from geode_ros.model.config import DRHConfig, DRMConfig, GeodeConfig, QuantConfig

__all__ = ['DRHConfig', 'DRMConfig', 'GeodeConfig', 'QuantConfig']
