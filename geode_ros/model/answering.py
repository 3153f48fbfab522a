"""The model's side of the query layer: its detections as the object memory, the VLM as
program writer, and the LLM's estimate where a benchmark-style question names an object
that was not detected (``SceneAnswering``, the part of ``GeodeModel`` that answers).

Every answer of ``GeodeModel`` goes one way: the question becomes a program
(``geode_ros.query``), the program runs over the memory built here from the DRM's
detections, and the one writer renders it. The LLM + DRH reading is kept beside it
(``extras['llm']``) and answers only as an explicit estimate (status ``estimated``):
for a distance, size or choice whose object is missing, never for a count, a
location or an existence question (a class never detected is counted 0).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from geode_ros.errors import GeodeError
from geode_ros.model.batch import GeodeSample, KeyframeFeatures, prepare_batch
from geode_ros.model.config import CHOICE_TYPES, NUMERIC_TYPES
from geode_ros.model.decode import greedy_generate
from geode_ros.model.objects import Detection
from geode_ros.query.execute import Result
from geode_ros.query.memory import MemoryObject, ObjectMemory, RobotPose
from geode_ros.query.program import ESTIMATED, NOT_FOUND, Program, convert_area, convert_length
from geode_ros.query.render import quantity
from geode_ros.scene.types import Answer, Box3D, SceneSnapshot

# The units the DRH regresses each numeric type in (its training targets).
DRH_UNITS = {'object_count': 'count', 'object_abs_distance': 'm',
             'object_size_estimation': 'cm', 'room_size_estimation': 'm2'}
NEVER_ESTIMATED = ('count', 'where', 'exists')


def _stamp(index: float, stamps: list[float]) -> float:
    if not stamps:  # no keyframes (point clouds only): the proposals' seen values are stamps
        return float(index) if math.isfinite(index) else math.nan
    if not math.isfinite(index):
        return math.nan
    i = int(index)
    return float(stamps[i]) if 0 <= i < len(stamps) else math.nan


def memory_of(detections: list[Detection], classes: tuple[str, ...], room_area: float,
              keyframe_stamps: list[float], sensor_pose: np.ndarray | None,
              forward_axis: int = 2, stamp: float = 0.0, frame_id: str = 'map',
              confident_score: float = 0.0) -> ObjectMemory:
    """The ObjectMemory of one scene's detections (keyframe indices become stamps)."""
    objects = [MemoryObject(d.label, float(d.score), np.asarray(d.box, np.float64),
                            float(d.first_seen), _stamp(d.first_seen, keyframe_stamps),
                            _stamp(d.last_seen, keyframe_stamps)) for d in detections]
    robot = (RobotPose.from_matrix(sensor_pose, forward_axis, stamp)
             if sensor_pose is not None else None)
    return ObjectMemory(objects, tuple(classes), float(room_area), robot, float(stamp),
                        frame_id, confident_score=confident_score)


def can_estimate(program: Program, result: Result) -> bool:
    """A benchmark-style question whose object was missing: the LLM may estimate it."""
    return (result.status == NOT_FOUND and program.kind not in NEVER_ESTIMATED
            and program.qtype in (*NUMERIC_TYPES, *CHOICE_TYPES))


def estimated(program: Program, result: Result, text: str, values: list[float]) -> Result:
    """``result`` answered by the LLM's reading (its text / DRH value), marked estimated."""
    qtype = program.qtype
    if qtype in CHOICE_TYPES:
        if not text:
            return result
        result.status, result.detail['estimate_text'] = ESTIMATED, text
        result.detail['choice'] = text
        return result
    if not values or not math.isfinite(values[0]):
        return result
    value, unit = float(values[0]), DRH_UNITS[qtype]
    if unit in ('m', 'cm'):
        metres = value * (0.01 if unit == 'cm' else 1.0)
        unit = program.unit or ('cm' if unit == 'cm' else 'm')
        value = convert_length(metres, unit)
    elif unit == 'm2':
        unit = program.unit or 'm2'
        value = convert_area(value, unit)
    result.status, result.values, result.units = ESTIMATED, [value], [unit]
    result.detail['estimate_text'] = quantity(value, unit)
    return result


class SceneAnswering:
    """What ``GeodeModel`` does with a scene snapshot: proposals, detections, the object
    memory, understanding a question (rules, then the VLM) and answering it."""

    def scene_proposals(self, snapshot: SceneSnapshot):
        """Object proposals of a snapshot's cloud with their first keyframe, cached for
        the last cloud seen (a query between two cloud updates reuses them)."""
        from geode_ros.scene.proposals import propose_objects, seen_range

        pts = snapshot.points
        key = (len(pts), float(np.asarray(pts[::997], np.float64).sum()) if len(pts) else 0.0,
               len(snapshot.keyframes))
        cached = getattr(self, '_proposal_cache', None)
        now = time.monotonic()
        if cached is not None and (cached[0] == key or (
                len(pts) and now - cached[2] < self.config.objects.proposal_refresh_s)):
            return cached[1]  # the same cloud, or a live cloud updated a moment ago
        props = propose_objects(pts, snapshot.colors, self.config.objects.proposals)
        props.first_seen, props.last_seen = seen_range(props, snapshot.keyframes,
                                                       snapshot.point_stamps)
        self._proposal_cache = (key, props, now)
        return props

    @torch.no_grad()
    def detect_scene(self, snapshot: SceneSnapshot, max_keyframes: int | None = None
                     ) -> list[Detection]:
        """The merged detections of a snapshot (what grounding selects from)."""
        from geode_ros.model.batch import evenly_spaced

        kfs = snapshot.keyframes
        keep = evenly_spaced(len(kfs), max_keyframes or self.config.max_keyframes)
        kfs = [kfs[i] for i in keep]
        feats = [kf.features if isinstance(kf.features, KeyframeFeatures)
                 else self.encode_keyframe(kf.frame) for kf in kfs]
        sample = GeodeSample('Where is the object?', snapshot.points, snapshot.colors, feats,
                             qtype='grounding_3d', proposals=self.scene_proposals(snapshot))
        batch = prepare_batch(self, [sample], stage=2, train=False, seed=0).to(self.device)
        return self.detect(batch)[0]

    def scene_memory(self, snapshot: SceneSnapshot):
        """The object memory of a snapshot: its detections (computed once per cloud update
        and keyframe set, then reused by every query), the room and the robot's pose."""

        dets, area = [], float('nan')
        if self.config.objects.enabled and self.config.use_drm and len(snapshot.points):
            props = self.scene_proposals(snapshot)
            key = (id(props), tuple(kf.index for kf in snapshot.keyframes))
            cached = getattr(self, '_detection_cache', None)
            if cached is not None and cached[0] == key:
                dets = cached[1]
            else:
                dets = self.detect_scene(snapshot)
                self._detection_cache = (key, dets)
            area = props.room_area
        stamps = [kf.frame.stamp for kf in snapshot.keyframes]
        return memory_of(dets, self.config.objects.classes, area, stamps, snapshot.sensor_pose,
                         snapshot.sensor_forward_axis, snapshot.stamp, snapshot.frame_id,
                         self.confident_score)

    @property
    def confident_score(self) -> float:
        """Detections scored below this are uncertain, and answers built on them say so
        (``objects.confident_score``, chosen on validation data; 0 when not set)."""
        return float(getattr(self.config.objects, 'confident_score', 0.0))

    @property
    def lexicon(self):
        """Names people use for the model's classes (``geode_ros.query.lexicon``); a model
        without an object vocabulary still reads questions about the household classes."""
        from geode_ros.query.lexicon import SYNONYMS, Lexicon

        classes = tuple(self.config.objects.classes) or tuple(SYNONYMS)
        cached = getattr(self, '_lexicon', None)
        if cached is None or cached.classes != classes:
            cached = self._lexicon = Lexicon(classes)
        return cached

    def write_program(self, question: str):
        """The program the VLM writes for a question (None when it cannot)."""
        from geode_ros.model.program_writer import ProgramWriter

        writer = getattr(self, '_writer', None)
        if writer is None or writer.classes != tuple(self.config.objects.classes):
            writer = self._writer = ProgramWriter(self)
        return writer(question)

    def understand(self, question, use_rules: bool = True, use_vlm: bool | None = None):
        """The query Program of a question: the rules first, then the VLM when they cannot
        (``programs.enabled``); a Program passes through validated."""
        from geode_ros.query.pipeline import understand

        vlm = self.config.programs.enabled if use_vlm is None else use_vlm
        return understand(question, self.lexicon, self.write_program if vlm else None,
                          use_rules=use_rules)

    def detections(self, snapshot: SceneSnapshot) -> list[Box3D]:
        """The detections of a snapshot as boxes (SceneReasoner; a detections topic)."""
        return [o.as_box3d() for o in self.scene_memory(snapshot).objects]

    @torch.no_grad()
    def answer(self, question, snapshot: SceneSnapshot) -> Answer:
        """Answer one question (text or a query Program) about a snapshot (SceneReasoner):
        the program runs over the snapshot's object memory; the LLM runs only to write a
        program the rules cannot, or to estimate what a missing object hides."""
        from geode_ros.query.execute import execute
        from geode_ros.query.pipeline import to_answer

        t0 = time.perf_counter()
        program = self.understand(question)
        t_parse = time.perf_counter() - t0
        if len(snapshot.points) == 0 and not snapshot.keyframes:
            raise GeodeError('scene memory is empty: ingest RGB-D frames or points first')
        t0 = time.perf_counter()
        memory = self.scene_memory(snapshot)
        t_memory = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = execute(program, memory, self.query_config)
        timings = {'parse': t_parse, 'memory': t_memory, 'execute': time.perf_counter() - t0}
        if self.config.objects.estimate_missing and can_estimate(program, result):
            gen = self._llm_reading(program, snapshot)
            result = estimated(program, result, gen.text, list(gen.values))
            timings.update(gen.timings)
        return to_answer(result, timings)

    @torch.no_grad()
    def _llm_reading(self, program, snapshot: SceneSnapshot):
        """The LLM + DRH's own answer of a program's question (for an estimate), asked in
        the benchmark's wording it was trained on."""
        from geode_ros.query.vsi_templates import vsi_question

        feats = [kf.features if isinstance(kf.features, KeyframeFeatures)
                 else self.encode_keyframe(kf.frame) for kf in snapshot.keyframes]
        props = (self.scene_proposals(snapshot) if self.config.objects.enabled
                 and self.config.use_drm and len(snapshot.points) else None)
        sample = GeodeSample(vsi_question(program), snapshot.points, snapshot.colors, feats,
                             qtype=program.qtype, program=program, proposals=props)
        batch = prepare_batch(self, [sample], stage=2, train=False, seed=0).to(self.device)
        t0 = time.perf_counter()
        spatio = self.spatio_embeddings(batch)
        gen = greedy_generate(self, batch, self.config.max_new_tokens, spatio=spatio)[0]
        gen.timings['drm'] = time.perf_counter() - t0 - sum(
            gen.timings.get(k, 0.0) for k in ('prefill', 'decode', 'option_scoring'))
        return gen
