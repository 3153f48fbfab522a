"""geode-eval: score a GEODE model on a QA set, per question type, the VSI-Bench way."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from geode_ros.cli.common import add_model_arguments, load_reasoner, run_main, setup_logging
from geode_ros.errors import GeodeError
from geode_ros.version import __version__

log = logging.getLogger('geode-eval')

EPILOG = """Scores: numeric types by Mean Relative Accuracy (thresholds 0.50..0.95),
multiple choice by exact match, 3D grounding by IoU with AP@0.25 / AP@0.5; all in percent.
Columns: score (the answers the model gives: each question read as a query program and
run over the model's detections), llm (the same questions read by the LLM / DRH alone),
blind (the same model with no scene: no points, no keyframes), baseline (the trivial
predictor: the per-type training mean for numbers from --train-data, chance for multiple
choice, the mean training box for grounding) and gap (score - blind: what the scene adds).
grounding_3d_absent: questions about an object that is not in the scene, answered
correctly when no box is given.
everyday:<kind>: questions in people's wording (geode-synth's everyday records), scored
by MRA for numbers, exact match for yes/no and sides, label F1 for lists, IoU >= 0.25
for locations, 1 s for last-seen stamps; count_absent / where_absent ask about a class
that is not in the room (right: 0 / not found).

examples:
  geode-eval --model models/geode-tiny --data data/val --train-data data/train
  geode-eval --model DIR --data vsibench/test.jsonl --scenes vsibench/frames --json out.json
  geode-eval --model models/geode-tiny --data data/test --train-data data/train --no-blind
  geode-eval --model models/geode-tiny --data data/test --no-blind --compare \
      realistic=data/test_realistic heldout=data/test_heldout \
      points=data/test_realistic@points points-nocolor=data/test_realistic@points-nocolor
--compare columns are the same seeds rendered another way (geode-synth --sensing) or the
same frames fed as point clouds only; a drop in a column is what that sensing costs.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='geode-eval', description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--version', action='version', version=f'%(prog)s {__version__}')
    parser.add_argument('--data', required=True,
                        help='geode-synth dir (qa.jsonl + scenes/), a QA JSONL, or VSI-Bench file')
    parser.add_argument('--scenes', default=None,
                        help='root that record.scene is relative to (default: the data dir)')
    parser.add_argument('--train-data', default=None,
                        help='training QA (dir or JSONL) for the per-type mean baseline')
    parser.add_argument('--limit', type=int, default=0, help='score only the first N questions')
    parser.add_argument('--types', nargs='+', default=None, help='only these question types')
    parser.add_argument('--batch-size', type=int, default=8, help='questions per forward')
    parser.add_argument('--no-blind', action='store_true',
                        help='skip the blind run (the same questions without their scenes, '
                             'which shows how much of each score the question alone earns)')
    parser.add_argument('--input', default='frames',
                        choices=('frames', 'points', 'points-nocolor'),
                        help='feed the scenes as RGB-D frames, or as point clouds only '
                             '(PointCloud2-style, with or without colours, no keyframes)')
    parser.add_argument('--compare', nargs='+', default=None, metavar='NAME=DIR[@INPUT]',
                        help='also score the same questions on other renderings of the same '
                             'scenes and print the columns side by side, e.g. realistic='
                             'data/test_realistic points=data/test@points (see below)')
    add_model_arguments(parser)
    parser.add_argument('--json', default=None, help='write the results as JSON here')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    return parser


def _load_records(path: Path):
    from geode_ros.data.qa import load_qa
    from geode_ros.data.vsibench import load_vsibench

    qa = path / 'qa.jsonl' if path.is_dir() else path
    try:
        return load_qa(qa)
    except GeodeError:
        return load_vsibench(qa)  # VSI-Bench's own files (question_type, ground_truth ...)


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit status 2 with a one-line message on bad input (GeodeError)."""
    return run_main('geode-eval', _main, argv)


def _main(argv: list[str] | None) -> int:
    from geode_ros.train.evaluate import evaluate, format_table
    from geode_ros.train.scenes import SceneStore

    args = build_parser().parse_args(argv)
    setup_logging(args.quiet)
    data = Path(args.data)
    records = _load_records(data)
    if args.types:
        records = [r for r in records if r.type in args.types]
    if args.limit:
        records = records[:args.limit]
    if not records:
        raise GeodeError(f'no questions to score in {data}')
    train = _load_records(Path(args.train_data)) if args.train_data else None
    model = load_reasoner(args.model, args.device, args.dtype, args.quantization)
    if model is None:
        raise GeodeError('geode-eval scores a GEODE model: give --model DIR or a shipped name '
                         "(the geometric baseline is the table's baseline column already)")
    root = Path(args.scenes) if args.scenes else (data if data.is_dir() else data.parent)
    store = SceneStore(root, model, inputs=args.input)
    result = evaluate(model, records, store, args.batch_size, train, not args.quiet)
    columns = _compare(args, model, records, train, result)
    blind = None if args.no_blind else evaluate(
        model, records, store, args.batch_size, train, not args.quiet, blind=True)
    print(format_table(result, blind))
    if columns:
        from geode_ros.train.robustness import format_columns

        print(format_columns(columns))
    if args.json:
        out = {'scene': result.to_json(), 'blind': blind.to_json() if blind else None,
               'baseline': result.baseline,
               **({'columns': {k: v.to_json() for k, v in columns.items()}} if columns else {})}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2) + '\n')
        log.info('wrote %s', args.json)
    return 0


def _compare(args, model, records, train, result) -> dict:
    """``--compare``: the main result as the first column, then one per NAME=DIR[@INPUT]."""
    if not args.compare:
        return {}
    from geode_ros.train.robustness import evaluate_columns, parse_column

    cols = [parse_column(spec) for spec in args.compare]
    main = Path(args.data).name + ('' if args.input == 'frames' else f'@{args.input}')
    return {main: result, **evaluate_columns(model, records, cols, args.batch_size, train,
                                             not args.quiet)}


if __name__ == '__main__':
    sys.exit(main())
