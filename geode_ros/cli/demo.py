"""geode-demo: answer spatial questions about a bundled synthetic scene and draw the result."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geode_ros.cli.common import add_model_arguments, run_main, setup_logging
from geode_ros.errors import GeodeError
from geode_ros.version import __version__

log = logging.getLogger('geode-demo')

DEFAULT_SCENE = Path('assets') / 'demo_scene'
EPILOG = """Ingests the scene's RGB-D frames through SpatialQueryEngine, asks one or two
questions of every type in its QA (the first ones in file order), scores them the
VSI-Bench way and writes OUT/demo.png, OUT/answers.json and OUT/demo.mcap
(/geode/markers + /geode/cloud; open it in Foxglove). With --model none it runs on the
geometric baseline, which answers room size only.

The bundled scene is reproduced with:
  geode-synth --scenes 1 --seed 424244 --workers 1 --out assets/demo_scene
"""


BASELINE_NOTE = ('scores: MRA (numbers), accuracy (choices), mean IoU (boxes); baseline: the '
                 "per-type mean of the scene's other QA answers, chance for choices "
                 '(nan: no other answers of that type)')


def demo_baseline(records: list[Any], selected: list[Any]) -> dict[str, float]:
    """Trivial baseline from the scene's QA records that were not asked (no leakage)."""
    import numpy as np

    from geode_ros.data.metrics import baseline_scores
    from geode_ros.data.qa import CHOICE_TYPES, NUMERIC_TYPES

    asked = {id(r) for r in selected}
    pool = [r for r in records if id(r) not in asked]
    have = {r.type for r in pool} | set(CHOICE_TYPES)
    out = {k: v for k, v in baseline_scores(pool, selected).items()
           if k != 'overall' and k.split('_AP@')[0] in have}
    vsi = [out[t] for t in (*NUMERIC_TYPES, *CHOICE_TYPES) if t in out]
    if vsi:
        out['overall'] = float(np.mean(vsi))
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='geode-demo', description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--version', action='version', version=f'%(prog)s {__version__}')
    parser.add_argument('--scene', default=None,
                        help=f'geode-synth directory: qa.jsonl + scenes/ (default: '
                             f'<repo>/{DEFAULT_SCENE}); its first scene is used')
    parser.add_argument('--out', default='out/demo', help='output directory')
    parser.add_argument('--per-type', type=int, default=2, help='questions per type (1 or 2)')
    add_model_arguments(parser)
    parser.add_argument('--quiet', action='store_true', help='warnings and the table only')
    return parser


@dataclass
class DemoScene:
    """One scene of a geode-synth directory: its frames folder, GT and QA."""

    folder: Path
    meta: dict[str, Any]
    records: list[Any] = field(default_factory=list)


def load_scene(root: str | Path) -> DemoScene:
    """The first scene of a geode-synth output (qa.jsonl + scenes/NNNNNN/)."""
    import json

    from geode_ros.data.qa import load_qa

    root = Path(root)
    if not (root / 'qa.jsonl').is_file():
        raise GeodeError(f'{root} is not a geode-synth directory (no qa.jsonl); make one with '
                         f'geode-synth --scenes 1 --out {root}')
    records = load_qa(root / 'qa.jsonl')
    if not records:
        raise GeodeError(f'{root / "qa.jsonl"} has no questions')
    name = records[0].scene
    folder = root / name
    meta_path = folder / 'scene.json'
    if not meta_path.is_file():
        raise GeodeError(f'{meta_path} missing: the demo needs the ground-truth boxes')
    meta = json.loads(meta_path.read_text())
    return DemoScene(folder, meta, [r for r in records if r.scene == name])


def select_questions(records: list[Any], per_type: int) -> list[Any]:
    """The first ``per_type`` records of every question type, in QUESTION_TYPES order,
    keeping at least one record of a type aside (for the baseline) when there are two."""
    from geode_ros.data.qa import QUESTION_TYPES

    out = []
    for t in QUESTION_TYPES:
        of_type = [r for r in records if r.type == t]
        out += of_type[:max(1, min(per_type, len(of_type) - 1))]
    return out


def _box_text(b: dict[str, Any]) -> str:
    c, s = b['center'], b['size']
    return (f'({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}) '
            f'{s[0]:.1f}x{s[1]:.1f}x{s[2]:.1f} m')


def truth_text(record: Any) -> str:
    """The ground truth as a short string."""
    if record.box is not None:
        return _box_text(record.box)
    if record.options:
        hit = [o for o in record.options if o.upper().startswith(record.answer.upper() + '.')]
        return hit[0] if hit else record.answer
    return record.answer


def answer_text(entry: dict[str, Any]) -> str:
    """The model's answer as a short string (the box for grounding, else the text; other
    answers carry the boxes of the objects they used too)."""
    if entry['error'] is not None:
        return 'error (see answers.json)'
    if entry['boxes'] and entry['type'] == 'grounding_3d':
        return _box_text(entry['boxes'][0])
    return str(entry['answer']).strip() or '(empty)'


def _short(text: str, n: int) -> str:
    text = ' '.join(text.split())
    return text if len(text) <= n else text[:n - 1] + '…'


def print_tables(entries: list[dict[str, Any]], summary: dict[str, float],
                 baseline: dict[str, float], counts: dict[str, int], title: str) -> None:
    """The per-question table and the per-type summary (rich when installed)."""
    rows = [(e['type'], _short(e['question'], 58), _short(answer_text(e), 34),
             _short(e['ground_truth'], 34), f'{100 * e["score"]:.0f}') for e in entries]
    sums = [(t, str(n), f'{summary.get(t, 0.0):.1f}', f'{baseline.get(t, float("nan")):.1f}')
            for t, n in counts.items()]
    sums.append(('overall (VSI types)', str(sum(counts.values())),
                 f'{summary.get("overall", float("nan")):.1f}',
                 f'{baseline.get("overall", float("nan")):.1f}'))
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        print(f'{"type":<24} {"question":<58} {"answer":<34} {"truth":<34} score')
        for r in rows:
            print(f'{r[0]:<24} {r[1]:<58} {r[2]:<34} {r[3]:<34} {r[4]:>5}')
        print(f'\n{"type":<24}{"n":>4}{"score %":>10}{"baseline %":>12}')
        for s in sums:
            print(f'{s[0]:<24}{s[1]:>4}{s[2]:>10}{s[3]:>12}')
        print(BASELINE_NOTE)
        return
    console = Console(width=None if sys.stdout.isatty() else 170)
    table = Table(title=title, show_lines=False)
    for name, just in (('type', 'left'), ('question', 'left'), ('answer', 'left'),
                       ('ground truth', 'left'), ('score %', 'right')):
        table.add_column(name, justify=just, overflow='fold')
    for r in rows:
        table.add_row(*r)
    console.print(table)
    summ = Table(title='per type, %', caption=BASELINE_NOTE)
    for name in ('type', 'n', 'score %', 'baseline %'):
        summ.add_column(name, justify='left' if name == 'type' else 'right')
    for s in sums:
        summ.add_row(*s)
    console.print(summ)


def run_demo(scene: DemoScene, reasoner: Any, per_type: int, quiet: bool
             ) -> tuple[Any, list[dict[str, Any]], list[Any]]:
    """Ingest the scene, answer the selected questions; (engine, entries, answers)."""
    from geode_ros.cli.common import ask
    from geode_ros.data.frames import FramesFolder
    from geode_ros.data.metrics import score_record
    from geode_ros.query.engine import SpatialQueryEngine
    from geode_ros.train.scenes import question_with_options

    engine = SpatialQueryEngine(reasoner=reasoner)
    t0 = time.perf_counter()
    for frame in FramesFolder(scene.folder):
        engine.ingest_frame(frame)
    log.info('ingested %s in %.1f s: %s', scene.folder, time.perf_counter() - t0,
             {k: engine.stats()[k] for k in ('frames_ingested', 'keyframes', 'points')})
    entries, answers = [], []
    for rec in select_questions(scene.records, per_type):
        ans, entry = ask(engine, question_with_options(rec), type=rec.type,
                         ground_truth=truth_text(rec), ground_truth_value=rec.value,
                         ground_truth_box=rec.box)
        entry['score'] = float(score_record(rec, ans)) if ans is not None else 0.0
        entries.append(entry)
        answers.append(ans)
        if not quiet:
            log.info('%s: %s', rec.type, answer_text(entries[-1]))
    return engine, entries, answers


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit status 2 with a one-line message on bad input (GeodeError)."""
    return run_main('geode-demo', _main, argv)


def _main(argv: list[str] | None) -> int:
    import cv2

    from geode_ros.cli.common import load_reasoner, reasoner_name, repo_root, write_json
    from geode_ros.cli.figure import demo_figure
    from geode_ros.data.mcap_out import McapOut
    from geode_ros.data.metrics import aggregate
    from geode_ros.scene.types import Box3D

    args = build_parser().parse_args(argv)
    setup_logging(args.quiet)
    t0 = time.perf_counter()
    if args.per_type < 1:
        raise GeodeError(f'--per-type must be >= 1, got {args.per_type}')
    scene = load_scene(args.scene or repo_root() / DEFAULT_SCENE)
    model = args.model
    reasoner = load_reasoner(model, args.device, args.dtype, args.quantization)
    engine, entries, answers = run_demo(scene, reasoner, args.per_type, args.quiet)
    selected = select_questions(scene.records, args.per_type)
    by_type: dict[str, list[float]] = {}
    for e in entries:
        by_type.setdefault(e['type'], []).append(e['score'])
    summary = aggregate(by_type)
    baseline = demo_baseline(scene.records, selected)
    counts = {t: len(v) for t, v in by_type.items()}
    name = reasoner_name(reasoner, model)
    print_tables(entries, summary, baseline, counts,
                 f'GEODE demo: {Path(name).name} on {scene.meta.get("scene", scene.folder)}')

    out = Path(args.out)
    snap = engine.snapshot()
    pred = [b for a in answers if a is not None for b in a.boxes]
    gt_all = [Box3D.from_dict(o['box']) for o in scene.meta.get('objects', [])]
    gt_focus = [Box3D.from_dict(r.box) for r in selected if r.box is not None]
    title = f'{Path(name).name}: overall {summary.get("overall", float("nan")):.1f}% ' \
            f'(baseline {baseline.get("overall", float("nan")):.1f}%)'
    fig = demo_figure(snap.points, snap.colors, [kf.frame for kf in snap.keyframes],
                      gt_all, gt_focus, pred, title)
    out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out / 'demo.png'), fig)
    with McapOut(out / 'demo.mcap', snap.frame_id) as mcap:
        mcap.write_cloud(snap.points, snap.colors, snap.stamp)
        for i, a in enumerate(answers):  # one answer per second, to step through
            if a is not None:
                mcap.write_markers(a.boxes, snap.stamp + 1.0 + i)
    write_json({'model': name, 'scene': str(scene.folder), 'overall': summary.get('overall'),
                'baseline_overall': baseline.get('overall'), 'summary': summary,
                'baseline': baseline, 'counts': counts, 'wall_s': time.perf_counter() - t0,
                'answers': entries}, out / 'answers.json')
    log.info('wrote %s, %s and %s in %.1f s', out / 'demo.png', out / 'answers.json',
             out / 'demo.mcap', time.perf_counter() - t0)
    return 0


if __name__ == '__main__':
    sys.exit(main())
