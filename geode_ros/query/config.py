"""QueryConfig: the one source of defaults of the query layer (ROS parameters map onto it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from geode_ros.errors import GeodeError


@dataclass
class QueryConfig:
    """How programs are executed over the object memory and how answers read."""

    near_radius_m: float = field(default=1.0, metadata={
        'help': 'what is near an object: closest-point distance up to this (m), unless the '
                'question names a radius'})
    ahead_deg: float = field(default=45.0, metadata={
        'help': 'an object within this bearing (deg) of the robot heading is ahead'})
    behind_deg: float = field(default=135.0, metadata={
        'help': 'an object at least this bearing (deg) away from the heading is behind '
                "(VSI-Bench's 'back')"})
    ambiguity_margin: float = field(default=0.2, metadata={
        'help': 'several detections of a class asked about as one ("the chair"): one whose '
                'score beats every other by this margin is the referent; otherwise the '
                'answer is about the one nearest the robot, and says so'})

    def validate(self) -> QueryConfig:
        if self.near_radius_m <= 0:
            raise GeodeError(f'near_radius_m must be > 0, got {self.near_radius_m}')
        if not 0 < self.ahead_deg < self.behind_deg <= 180:
            raise GeodeError('query angles must satisfy 0 < ahead_deg < behind_deg <= 180, got '
                             f'{self.ahead_deg}, {self.behind_deg}')
        if not 0 <= self.ambiguity_margin <= 1:
            raise GeodeError(f'ambiguity_margin must be within [0, 1], got '
                             f'{self.ambiguity_margin}')
        return self
