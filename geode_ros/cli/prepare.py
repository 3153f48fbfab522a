"""geode-prepare: turn labelled real scans into a dataset geode-train and geode-eval read.

Input: scan folders in the ScanNet layout (mesh, segments, aggregation and the RGB-D
stream exported by ScanNet's SensReader; see ``geode_ros/data/scannet.py``), or a folder
holding such scan folders. Output: the layout ``geode-synth`` writes, ``OUT/scenes/<scan>/``
(frames folder + scene.json with one box per labelled object) and ``OUT/qa.jsonl`` (the
same question types, generated from the real boxes), so that

    geode-train --data OUT ...   and   geode-eval --data OUT ...

run on real rooms. The model's class list is the set of labels in the data it is trained
on: ``--vocabulary synthetic`` maps ScanNet's categories onto the 17 classes of the shipped
model (to evaluate it on real rooms), ``nyu40`` keeps NYU40's object classes (to train a
model that knows them), ``raw`` keeps ScanNet's raw categories.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from geode_ros.cli.common import setup_logging
from geode_ros.errors import GeodeError
from geode_ros.version import __version__

log = logging.getLogger('geode-prepare')

EPILOG = """examples:
  geode-prepare scans/scene0000_00 scans/scene0001_00 --out data/scannet \\
      --labels scannetv2-labels.combined.tsv
  geode-prepare scans --out data/scannet_nyu40 --vocabulary nyu40 --frame-stride 20
  geode-eval --model models/geode-tiny --data data/scannet --no-blind
"""


def build_parser() -> argparse.ArgumentParser:
    from geode_ros.data.scannet import VOCABULARIES

    parser = argparse.ArgumentParser(prog='geode-prepare', description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--version', action='version', version=f'%(prog)s {__version__}')
    parser.add_argument('scans', nargs='+',
                        help='scan folders (sceneXXXX_XX/), or folders holding them')
    parser.add_argument('--out', required=True, help='output dataset directory')
    parser.add_argument('--format', default='scannet', choices=('scannet',),
                        help='layout of the scans (ScanNet v2 with exported frames)')
    parser.add_argument('--labels', default=None,
                        help="ScanNet's scannetv2-labels.combined.tsv (raw -> NYU40 classes)")
    parser.add_argument('--vocabulary', default='synthetic', choices=VOCABULARIES,
                        help='class names of the output (see the description)')
    parser.add_argument('--frame-stride', type=int, default=10,
                        help='keep every N-th frame of the 30 Hz stream')
    parser.add_argument('--max-frames', type=int, default=0,
                        help='at most this many frames per scan (0 = all)')
    parser.add_argument('--min-vertices', type=int, default=30,
                        help='objects with fewer mesh vertices are left out')
    parser.add_argument('--axis-aligned', action='store_true',
                        help='axis-aligned boxes (ScanNet/VoteNet convention) instead of '
                             'oriented ones')
    parser.add_argument('--questions-per-scene', type=int, default=40, help='QA per scan')
    parser.add_argument('--seed', type=int, default=0, help='seed of the question sampling')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    return parser


def find_scans(paths: list[str]) -> list[Path]:
    """Scan folders: the paths themselves when they hold an aggregation file, else their
    sub-folders that do."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir():
            raise GeodeError(f'{p} is not a folder')
        if any(p.glob('*.aggregation.json')):
            out.append(p)
        else:
            out += sorted(q for q in p.iterdir()
                          if q.is_dir() and any(q.glob('*.aggregation.json')))
    if not out:
        raise GeodeError(f'no ScanNet scan folders (with *.aggregation.json) in {paths}')
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (2 on bad input)."""
    import numpy as np

    from geode_ros.data.qa import save_qa
    from geode_ros.data.qa_gen import generate_qa
    from geode_ros.data.scannet import PrepareConfig, convert_scan, read_label_tsv

    args = build_parser().parse_args(argv)
    setup_logging(args.quiet)
    try:
        if args.frame_stride < 1 or args.max_frames < 0:
            raise GeodeError('--frame-stride must be >= 1 and --max-frames >= 0')
        cfg = PrepareConfig(args.vocabulary, Path(args.labels) if args.labels else None,
                            args.frame_stride, args.max_frames, args.min_vertices,
                            not args.axis_aligned)
        tsv = read_label_tsv(cfg.labels_tsv) if cfg.labels_tsv else {}
        scans = find_scans(args.scans)
        out = Path(args.out)
        records, labels = [], set()
        for i, scan in enumerate(tqdm(scans, desc='scans', unit='scan', disable=args.quiet)):
            scene = f'scenes/{scan.name}'
            meta = convert_scan(scan, out / scene, cfg, scene, tsv)
            labels.update(o['label'] for o in meta['objects'])
            records += generate_qa(meta, np.random.default_rng([args.seed, i]),
                                   args.questions_per_scene)
        save_qa(records, out / 'qa.jsonl')
    except (GeodeError, OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        print(f'geode-prepare: error: {exc}', file=sys.stderr)
        return 2
    log.info('%d scans, %d questions, classes: %s -> %s', len(scans), len(records),
             ', '.join(sorted(labels)) or 'none', out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
