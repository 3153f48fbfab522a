"""geode-bench: performance checks that print ratios against a baseline run in the same process.

Subcommands: ingest (ours vs Open3D), memory (bounded scene memory), model (DRH vs digit
decoding, quantised weight memory and error, latency breakdown), query (ingest rate and
query latency of the engine with a trained model), phrasings (people's wordings: parse
rate and answers by rules / VLM / both), proposals (what the DRM can see and
detect, per object class), live (frames published vs received vs fused by geode_node
over DDS), soak (the node over DDS for minutes).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from geode_ros.cli.common import run_main, setup_logging
from geode_ros.version import __version__


def build_parser() -> argparse.ArgumentParser:
    """One subcommand per benchmark, each from its module's add_arguments/run pair."""
    from geode_ros.cli import (
        bench_ingest,
        bench_live,
        bench_model,
        bench_phrasings,
        bench_proposals,
        bench_query,
        bench_soak,
    )

    parser = argparse.ArgumentParser(prog='geode-bench', description=__doc__)
    parser.add_argument('--version', action='version', version=f'geode-bench {__version__}')
    sub = parser.add_subparsers(dest='command', required=True)
    commands = (
        ('ingest', 'our RGB-D ingest vs Open3D on a frames folder',
         bench_ingest.add_arguments, bench_ingest.run),
        ('memory', 'ingest many frames; memory must stay bounded',
         bench_ingest.add_memory_arguments, bench_ingest.run_memory),
        ('model', 'DRH vs digit decoding, int8/int4 memory, latency',
         bench_model.add_arguments, bench_model.run),
        ('query', 'engine ingest rate and query latency with a model',
         bench_query.add_arguments, bench_query.run),
        ('phrasings', "people's wordings: parse rate and answers, rules / VLM / both",
         bench_phrasings.add_arguments, bench_phrasings.run),
        ('proposals', 'per class: points, proposal coverage and detection AP on scenes',
         bench_proposals.add_arguments, bench_proposals.run),
        ('live', 'frames published vs received vs fused by geode_node over DDS',
         bench_live.add_arguments, bench_live.run),
        ('soak', 'node + camera + client over DDS for N minutes; memory and latency',
         bench_soak.add_arguments, bench_soak.run),
    )
    for name, helptext, add_arguments, run in commands:
        command = sub.add_parser(name, help=helptext)
        add_arguments(command)
        command.set_defaults(func=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; a GeodeError becomes a one-line message and exit status 2."""
    return run_main('geode-bench', _main, None if argv is None else list(argv))


def _main(argv: list[str] | None) -> int:
    setup_logging()
    args = build_parser().parse_args(argv)
    result = args.func(args)
    return 1 if isinstance(result, dict) and result.get('passed') is False else 0


if __name__ == '__main__':
    sys.exit(main())
