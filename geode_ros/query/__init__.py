"""The typed query layer: questions become programs that run over the object memory.

ROS-free and torch-free. ``parse`` (rules) and, when they cannot, a VLM (``model/``)
turn a question into a ``Program``; ``execute`` runs it over one ``ObjectMemory``
snapshot; ``render`` writes the answer. The node and ``SpatialQueryEngine`` call it once
per question; a planner may send the program's fields directly.
"""
