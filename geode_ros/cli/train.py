"""geode-train: train GEODE in two stages (1: DRM by rationale reconstruction; 2: LLM + DRH)."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from geode_ros.cli.common import run_main, setup_logging
from geode_ros.config import add_dataclass_args, apply_args, from_dict, load_yaml, to_dict
from geode_ros.errors import GeodeError
from geode_ros.version import __version__

log = logging.getLogger('geode-train')

EPILOG = """examples:
  geode-synth --scenes 200 --out data/train --seed 0
  geode-synth --scenes 20 --out data/val --seed 100000
  geode-train --config config/train_default.yaml --stage 1
  geode-train --config config/train_default.yaml --stage 2
  geode-train --config config/train_default.yaml --stage 2 --resume   # after an interruption

Every field of the config can also be given as a flag (e.g. --lr 3e-4, --model.drm.width 128);
flags override the YAML file. Multi-GPU: torchrun --nproc-per-node N $(which geode-train) ...
"""


def build_parser() -> argparse.ArgumentParser:
    from geode_ros.train.config import TrainConfig

    parser = argparse.ArgumentParser(
        prog='geode-train', description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--version', action='version', version=f'%(prog)s {__version__}')
    parser.add_argument('--config', help='YAML file with TrainConfig fields (optional)')
    parser.add_argument('--resume', action='store_true',
                        help='continue from OUT/state.json instead of starting over')
    parser.add_argument('--stop-at', type=int, default=None,
                        help='stop at this step with the state saved (finish later with --resume)')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    add_dataclass_args(parser, TrainConfig())
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; exit status 2 with a one-line message on bad input (GeodeError)."""
    return run_main('geode-train', _main, argv)


def _main(argv: list[str] | None) -> int:
    from geode_ros.train.config import TrainConfig
    from geode_ros.train.trainer import Trainer

    args = build_parser().parse_args(argv)
    setup_logging(args.quiet)
    cfg = load_yaml(TrainConfig, args.config) if args.config else TrainConfig()
    cfg = apply_args(cfg, args)
    cfg = from_dict(TrainConfig, to_dict(cfg))  # re-validate nested values
    if cfg.stage not in (1, 2):
        raise GeodeError(f'--stage must be 1 or 2, got {cfg.stage}')
    t0 = time.perf_counter()
    trainer = Trainer(cfg, progress=not args.quiet)
    final = trainer.fit(resume=args.resume, stop_at=args.stop_at)
    minutes = (time.perf_counter() - t0) / 60
    if final is None:
        log.info('stopped at step %d after %.1f min; continue with --resume', args.stop_at,
                 minutes)
        return 0
    log.info('stage %d done in %.1f min: %s', cfg.stage, minutes, final)
    print(final)
    return 0


if __name__ == '__main__':
    sys.exit(main())
