"""geode-replay: replay recorded RGB-D through the engine and answer questions on the way.

Inputs: a rosbag2, a frames folder, a 7-Scenes sequence or a TUM RGB-D sequence.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geode_ros.cli.common import add_model_arguments, ask, run_main, setup_logging
from geode_ros.config import add_dataclass_args, from_dict, to_dict
from geode_ros.data.sources import FORMATS
from geode_ros.errors import GeodeError
from geode_ros.scene.geometry import UP_AXES
from geode_ros.version import __version__

log = logging.getLogger('geode-replay')

EPILOG = """Questions file: JSONL (one {"question": ..., "time": s} per line; time optional,
seconds from the bag start), a JSON/YAML list of such objects or of strings, or plain
text with one question per line (# starts a comment). QA records work too: their
"options" are appended to the question. Questions without a time, and all of them
with --at-end, are answered after the last frame.

Inputs (--format auto detects them): rosbag2 (sqlite3 or MCAP); frames folder
(intrinsics.json + frame-NNNNNN.color.png|jpg/.depth.png/.pose.txt); 7-Scenes sequence
(the same without intrinsics.json: Kinect defaults, or --intrinsics FILE); TUM RGB-D
sequence (rgb.txt, depth.txt, groundtruth.txt; Freiburg calibration from the folder
name, or --intrinsics). Scene memory is z-up: for a dataset whose world is not, give
--up-axis (e.g. -y), or --up-axis auto to estimate it from the camera poses.

Outputs: OUT/answers.json and OUT/replay.mcap (/geode/markers MarkerArray and
/geode/cloud PointCloud2 at each answer; open it in Foxglove, or ros2 bag play + RViz).

examples:
  geode-replay room.bag --questions questions.txt --rate 0
  geode-replay room_mcap --questions q.jsonl --model none --out out/replay   # baseline
  geode-replay 7scenes/chess/seq-01 --questions q.txt --up-axis auto --rate 0
  geode-replay rgbd_dataset_freiburg1_desk --questions q.txt --up-axis auto --rate 0
"""


@dataclass
class TimedQuestion:
    """A question and when to ask it (seconds from the bag start; None = at the end)."""

    text: str
    time: float | None = None


def _question_of(item: Any, where: str) -> TimedQuestion:
    if isinstance(item, str):
        return TimedQuestion(item.strip())
    if not isinstance(item, dict) or not isinstance(item.get('question'), str):
        raise GeodeError(f'{where}: expected a string or an object with a "question" string')
    text = item['question'].strip()
    if item.get('options'):
        text += '\n' + '\n'.join(str(o) for o in item['options'])
    t = item.get('time')
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0):
        raise GeodeError(f'{where}: "time" must be seconds >= 0 from the bag start, got {t!r}')
    return TimedQuestion(text, None if t is None else float(t))


def load_questions(path: str | Path) -> list[TimedQuestion]:
    """Questions from JSONL, a JSON/YAML list, or plain text lines."""
    path = Path(path)
    if not path.is_file():
        raise GeodeError(f'questions file not found: {path}')
    text = path.read_text(encoding='utf-8')
    suffix = path.suffix.lower()
    items: list[tuple[Any, str]]
    if suffix == '.jsonl':
        items = []
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    items.append((json.loads(line), f'{path}:{n}'))
                except json.JSONDecodeError as exc:
                    raise GeodeError(f'{path}:{n}: not valid JSON: {exc.msg}') from exc
    elif suffix in ('.json', '.yaml', '.yml'):
        import yaml

        try:
            data = json.loads(text) if suffix == '.json' else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise GeodeError(f'{path} is not valid {suffix[1:].upper()}: {exc}') from exc
        if isinstance(data, dict) and 'questions' in data:
            data = data['questions']
        if not isinstance(data, list):
            raise GeodeError(f'{path}: expected a list of questions')
        items = [(d, f'{path}[{i}]') for i, d in enumerate(data)]
    else:
        items = [(line, f'{path}:{n}') for n, line in enumerate(text.splitlines(), start=1)
                 if line.strip() and not line.lstrip().startswith('#')]
    questions = [_question_of(item, where) for item, where in items]
    questions = [q for q in questions if q.text]
    if not questions:
        raise GeodeError(f'no questions in {path}')
    return questions


def build_parser() -> argparse.ArgumentParser:
    from geode_ros.scene.config import SceneConfig

    parser = argparse.ArgumentParser(
        prog='geode-replay', description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--version', action='version', version=f'%(prog)s {__version__}')
    parser.add_argument('bag', metavar='INPUT',
                        help='rosbag2 (directory or .mcap), frames folder, 7-Scenes or TUM '
                             'sequence folder')
    parser.add_argument('--format', default='auto', choices=FORMATS,
                        help='input layout (default: detected)')
    parser.add_argument('--intrinsics', default=None,
                        help='intrinsics.json-style file for a 7-Scenes/TUM folder')
    parser.add_argument('--up-axis', default='z', choices=[*UP_AXES, 'auto'],
                        help="the dataset world's up axis; poses are rotated so it is +z "
                             '(auto: estimated from the camera poses; folders only)')
    parser.add_argument('--questions', required=True, help='questions file (see below)')
    parser.add_argument('--out', default='out/replay', help='output directory')
    add_model_arguments(parser)
    parser.add_argument('--rate', type=float, default=1.0,
                        help="playback speed: 1 = the bag's pace, 2 = twice as fast, "
                             '0 = as fast as possible')
    parser.add_argument('--at-end', action='store_true',
                        help='ignore question times and ask everything after the last frame')
    parser.add_argument('--rgb-topic', default=None, help='Image topic (default: auto)')
    parser.add_argument('--depth-topic', default=None, help='depth Image topic (default: auto)')
    parser.add_argument('--camera-info-topic', default=None,
                        help='depth CameraInfo topic (default: auto)')
    parser.add_argument('--pose-topic', default=None,
                        help='PoseStamped topic of the camera (default: /tf + /tf_static)')
    parser.add_argument('--camera-frame', default=None,
                        help='TF frame of the depth camera (default: the image header frame)')
    parser.add_argument('--fixed-frame', default=None,
                        help=f'fixed frame of memory and answers (default: '
                             f'{SceneConfig().fixed_frame})')
    parser.add_argument('--quiet', action='store_true',
                        help='no log messages (answers are still printed)')
    add_dataclass_args(parser, SceneConfig(), 'scene.')
    return parser


def scene_config(args: argparse.Namespace) -> Any:
    """SceneConfig from the --scene.* flags (and --fixed-frame)."""
    from geode_ros.scene.config import SceneConfig

    given = {k[len('scene.'):]: v for k, v in vars(args).items()
             if k.startswith('scene.') and v is not None}
    if args.fixed_frame:
        given['fixed_frame'] = args.fixed_frame
    return from_dict(SceneConfig, {**to_dict(SceneConfig()), **given}).validate()


class Replayer:
    """Feeds frames to the engine, asks the questions that fall due, records the results."""

    def __init__(self, engine: Any, out: Any, questions: list[TimedQuestion], start: float,
                 at_end: bool) -> None:
        self.engine, self.out, self.start = engine, out, start
        timed = [q for q in questions if q.time is not None and not at_end]
        self.pending = sorted(timed, key=lambda q: q.time)
        self.final = [q for q in questions if q.time is None or at_end]
        self.results: list[dict[str, Any]] = []
        self.frames = 0
        self.last_stamp = start
        self._cloud_stamp: float | None = None

    def ask(self, q: TimedQuestion) -> None:
        """Answer one question now; a GeodeError is recorded, not raised."""
        at = self.last_stamp - self.start
        answer, record = ask(self.engine, q.text, time=q.time, answered_at=at,
                             frames_seen=self.frames)
        self.results.append(record)
        if answer is None:
            print(f'[{at:7.2f} s] {q.text.splitlines()[0]}\n    error: {record["error"]}')
            return
        snap = self.engine.snapshot()
        self.out.write_markers(answer.boxes, self.last_stamp)
        self.out.write_cloud(snap.points, snap.colors, self.last_stamp)
        self._cloud_stamp = self.last_stamp
        print(f'[{at:7.2f} s] {q.text.splitlines()[0]}\n    -> {answer.text}')

    def run(self, frames: Any, rate: float) -> None:
        """Ingest ``frames`` at ``rate`` x the bag's pace (0 = no waiting)."""
        wall0 = time.perf_counter()
        for frame in frames:
            rel = frame.stamp - self.start
            while self.pending and self.pending[0].time < rel:
                self.ask(self.pending.pop(0))
            if rate > 0:
                delay = wall0 + rel / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            self.engine.ingest_frame(frame)
            self.frames += 1
            self.last_stamp = max(self.last_stamp, frame.stamp)
        for q in [*self.pending, *self.final]:
            self.ask(q)
        snap = self.engine.snapshot()
        if len(snap.points) and self._cloud_stamp != self.last_stamp:
            self.out.write_cloud(snap.points, snap.colors, self.last_stamp)


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit status 2 with a one-line message on bad input (GeodeError)."""
    return run_main('geode-replay', _main, argv)


def _main(argv: list[str] | None) -> int:
    from geode_ros.cli.common import load_reasoner, reasoner_name, write_json
    from geode_ros.data.mcap_out import McapOut
    from geode_ros.data.rosbag_reader import BagTopics
    from geode_ros.data.sources import open_rgbd
    from geode_ros.query.engine import SpatialQueryEngine

    args = build_parser().parse_args(argv)
    setup_logging(args.quiet)
    t0 = time.perf_counter()
    if args.rate < 0:
        raise GeodeError(f'--rate must be >= 0 (0 = as fast as possible), got {args.rate}')
    questions = load_questions(args.questions)
    cfg = scene_config(args)
    reasoner = load_reasoner(args.model, args.device, args.dtype, args.quantization)
    engine = SpatialQueryEngine(cfg, reasoner)
    topics = BagTopics(args.rgb_topic, args.depth_topic, args.camera_info_topic,
                       args.pose_topic)
    source = open_rgbd(args.bag, args.format, cfg.fixed_frame, args.intrinsics,
                       args.up_axis, bag_options={
                           'topics': topics, 'camera_frame': args.camera_frame,
                           'depth_scale_16u': cfg.depth_scale_16u})
    start, frames = source.start, source.frames
    log.info('reading %s (%s%s)', args.bag, source.kind,
             f', {source.length} frames' if source.length else '')
    out_dir = Path(args.out)
    with McapOut(out_dir / 'replay.mcap', cfg.fixed_frame) as out:
        replayer = Replayer(engine, out, questions, start, args.at_end)
        replayer.run(frames, args.rate)
    if replayer.frames == 0:
        raise GeodeError(f'no RGB-D frames with a camera pose in {args.bag}: check the '
                         'topics and --fixed-frame / --pose-topic')
    stats = engine.stats()
    write_json({
        'bag': str(args.bag), 'format': source.kind, 'model': reasoner_name(reasoner, args.model),
        'bag_start': start, 'frames': replayer.frames, 'rate': args.rate,
        'wall_s': time.perf_counter() - t0, 'stats': stats, 'answers': replayer.results,
    }, out_dir / 'answers.json')
    ok = sum(r['error'] is None for r in replayer.results)
    log.info('%d frames, %d keyframes, %d points; %d/%d questions answered; wrote %s and %s',
             replayer.frames, stats['keyframes'], stats['points'], ok, len(replayer.results),
             out_dir / 'answers.json', out_dir / 'replay.mcap')
    return 0


if __name__ == '__main__':
    sys.exit(main())
