"""geode-synth: generate procedural RGB-D rooms and VSI-Bench-style spatial QA."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from geode_ros.cli.common import run_main, setup_logging
from geode_ros.config import add_dataclass_args, apply_args
from geode_ros.version import __version__

log = logging.getLogger('geode-synth')


def build_parser() -> argparse.ArgumentParser:
    from geode_ros.data.synth import SynthConfig

    parser = argparse.ArgumentParser(
        prog='geode-synth',
        description=(
            'Generate synthetic indoor scenes rendered as RGB-D walks (frames folders with '
            'ground-truth 3D boxes in scene.json) and QA of all nine question types with '
            'chain-of-thought rationales in OUT/qa.jsonl. Scene i uses seed SEED + i.'),
        epilog='example: geode-synth --scenes 100 --out data/synth --seed 0 --workers 4',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument('--version', action='version', version=f'%(prog)s {__version__}')
    parser.add_argument('--quiet', action='store_true', help='no progress bar, warnings only')
    add_dataclass_args(parser, SynthConfig())
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit status 2 with a one-line message on bad input (GeodeError)."""
    return run_main('geode-synth', _main, argv)


def _main(argv: list[str] | None) -> int:
    from geode_ros.data.synth import SynthConfig, generate_dataset

    args = build_parser().parse_args(argv)
    setup_logging(args.quiet)
    cfg = apply_args(SynthConfig(), args)
    t0 = time.perf_counter()
    path = generate_dataset(cfg, progress=not args.quiet)
    log.info('done in %.1f s: %s', time.perf_counter() - t0, path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
