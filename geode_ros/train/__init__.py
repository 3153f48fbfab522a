"""Two-stage GEODE training (stage 1: DRM; stage 2: LLM + DRH) and evaluation."""
