"""``python -m geode_ros.cli.ablation`` (``make ablation``): train and score the paper's
ablation variants (see ``geode_ros.train.ablation``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from geode_ros.cli.common import run_main, setup_logging
from geode_ros.config import add_dataclass_args, apply_args, from_dict, load_yaml, to_dict
from geode_ros.train import ablation
from geode_ros.train.ablation import VARIANTS, run_ablation
from geode_ros.train.config import TrainConfig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m geode_ros.cli.ablation', description=ablation.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', help='YAML file with TrainConfig fields')
    parser.add_argument('--steps1', type=int, required=True, help='stage-1 steps (N)')
    parser.add_argument('--steps2', type=int, required=True, help='stage-2 steps (M)')
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS),
                        help='variants to train and score (full stage 1 always runs)')
    parser.add_argument('--limit', type=int, default=0, help='score only the first N questions')
    parser.add_argument('--quiet', action='store_true', help='no progress bars')
    add_dataclass_args(parser, TrainConfig())
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit status 2 with a one-line message on bad input (GeodeError)."""
    return run_main('ablation', _main, argv)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ('stage', 'steps', 'skip_stage1'):
        if getattr(args, name) is not None:
            parser.error(f'--{name.replace("_", "-")} is set per variant by the ablation')
    setup_logging(args.quiet)
    cfg = load_yaml(TrainConfig, args.config) if args.config else TrainConfig()
    out = args.out or 'out/ablation'
    cfg = from_dict(TrainConfig, to_dict(apply_args(cfg, args)))
    report = run_ablation(cfg, out, args.steps1, args.steps2, tuple(args.variants),
                          args.limit, progress=not args.quiet)
    print((Path(out) / 'ablation.md').read_text())
    return 0 if report['variants'] else 2


if __name__ == '__main__':
    sys.exit(main())
