"""``geode-bench proposals``: what the DRM can see, per object class, on held-out scenes.

For every ground-truth object of each scene (replayed through the engine as the node
would): how many fused-cloud points lie in its box, and how well the best class-agnostic
proposal covers it (IoU >= 0.25 / 0.5). With ``--model``, also the model's own merged
detections: AP@0.25 per class (what its object tokens learnt) and how many objects a
detection of the right class finds at IoU >= 0.25.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from geode_ros.errors import GeodeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geode_ros.cli.common import add_runtime_arguments

    parser.add_argument('--data', required=True, help='geode-synth dir (scenes/*/scene.json)')
    parser.add_argument('--model', default=None, help="also score this model's detections")
    parser.add_argument('--limit', type=int, default=0, help='only the first N scenes')
    add_runtime_arguments(parser)
    parser.add_argument('--json', dest='json_out', default=None, help='write results here')


def run(args: argparse.Namespace) -> dict:
    from geode_ros.scene.boxgeom import box_iou_3d, points_in_box
    from geode_ros.scene.proposals import ProposalConfig, propose_objects
    from geode_ros.scene.types import Box3D
    from geode_ros.train.scenes import replay_scene, scene_objects

    folders = sorted(Path(args.data).glob('scenes/*/scene.json'))
    folders = [f.parent for f in folders][:args.limit or None]
    if not folders:
        raise GeodeError(f'no scenes/*/scene.json under {args.data}')
    model = None
    if args.model:
        from geode_ros.cli.common import load_reasoner

        model = load_reasoner(args.model, args.device, args.dtype, args.quantization)
    pcfg = model.config.objects.proposals if model is not None else ProposalConfig()
    per_class: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    all_dets, all_gt = [], []
    for folder in folders:
        snap = replay_scene(folder)
        gt = scene_objects(folder) or []
        props = propose_objects(snap.points, snap.colors, pcfg)
        boxes = [Box3D('', b[:3], b[3:6], float(b[6])) for b in props.boxes]
        for o in gt:
            best = max((box_iou_3d(o, b) for b in boxes), default=0.0)
            row = per_class[o.label]
            row['points'].append(float(points_in_box(snap.points, o, 0.0).sum()))
            row['proposal_iou'].append(best)
        if model is not None:
            dets = model.detect_scene(snap)
            all_dets.append(dets)
            all_gt.append(gt)
            for o in gt:
                same = [box_iou_3d(o, d.as_box3d()) for d in dets if d.label == o.label]
                per_class[o.label]['detection_iou'].append(max(same, default=0.0))
    ap = {}
    if model is not None:
        from geode_ros.train.objects import detection_ap

        ap = detection_ap(all_dets, all_gt, 0.25)
    table, out = [], {}
    head = f'{"class":<14}{"n":>5}{"points":>8}{"prop@.25":>10}{"prop@.5":>9}'
    head += f'{"det@.25":>9}{"AP@.25":>8}' if model is not None else ''
    table.append(head)
    for label in sorted(per_class):
        r = per_class[label]
        iou = np.asarray(r['proposal_iou'])
        row = {'n': len(iou), 'mean_points': float(np.mean(r['points'])),
               'proposal_recall@0.25': 100 * float(np.mean(iou >= 0.25)),
               'proposal_recall@0.5': 100 * float(np.mean(iou >= 0.5))}
        line = (f'{label:<14}{row["n"]:>5}{row["mean_points"]:>8.0f}'
                f'{row["proposal_recall@0.25"]:>10.0f}{row["proposal_recall@0.5"]:>9.0f}')
        if model is not None:
            det = np.asarray(r['detection_iou'])
            row['detection_recall@0.25'] = 100 * float(np.mean(det >= 0.25))
            row['AP@0.25'] = ap.get(label, float('nan'))
            line += f'{row["detection_recall@0.25"]:>9.0f}{row["AP@0.25"]:>8.1f}'
        out[label] = row
        table.append(line)
    ious = np.concatenate([per_class[k]['proposal_iou'] for k in per_class])
    summary = {'scenes': len(folders), 'objects': int(len(ious)),
               'proposal_recall@0.25': 100 * float(np.mean(ious >= 0.25)),
               'proposal_recall@0.5': 100 * float(np.mean(ious >= 0.5))}
    line = (f'{"all":<14}{len(ious):>5}{"":>8}{summary["proposal_recall@0.25"]:>10.0f}'
            f'{summary["proposal_recall@0.5"]:>9.0f}')
    if model is not None:
        det = np.concatenate([per_class[k]['detection_iou'] for k in per_class])
        summary['detection_recall@0.25'] = 100 * float(np.mean(det >= 0.25))
        summary['mAP@0.25'] = ap.get('mAP', float('nan'))
        line += f'{summary["detection_recall@0.25"]:>9.0f}{summary["mAP@0.25"]:>8.1f}'
    table.append(line)
    print(f'{len(folders)} scenes of {args.data}; points: fused-cloud points in the GT box; '
          'prop: best proposal IoU; det: best same-class detection IoU (recall, %)')
    print('\n'.join(table))
    result = {'summary': summary, 'per_class': out}
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(result, indent=2) + '\n')
    return result
