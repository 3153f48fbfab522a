"""Data: frames folders, synthetic scenes, QA records, VSI-Bench loading and metrics."""
