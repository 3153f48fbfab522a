"""Why no frame reached scene memory, in one sentence a planner can show a person.

The service reply is often the only thing a user sees of the node, so when memory is
empty it names the causes the node can observe: topics nobody publishes, publishers
whose QoS does not match, frame sets without a camera pose, and sets that arrived but
were rejected (with their reasons). Pure functions of the node's counters and the
state of its subscriptions (``AdaptiveSubscription.state``), so they are tested
without spinning a node.
"""

from __future__ import annotations

from typing import Any

POSE_REASONS = ('no_pose', 'no_pose_source', 'pose_wait_overflow')


def _missing(inputs: dict[str, dict[str, Any]]) -> list[str]:
    return [f"{s['topic']} ({name})" for name, s in inputs.items() if s['publishers'] == 0]


def _mismatched(inputs: dict[str, dict[str, Any]]) -> list[str]:
    out = []
    for name, s in inputs.items():
        strict = s['reliability'] == 'reliable' and 'best_effort' in s['offered']
        if s['incompatible'] or strict:
            offered = ', '.join(sorted(set(s['offered']))) or 'unknown QoS'
            out.append(f"{s['topic']} ({name}: publisher offers {offered}, subscribed "
                       f"{s['reliability']})")
    return out


def why_no_frames(counts: dict[str, Any], inputs: dict[str, dict[str, Any]],
                  pose_kind: str, fixed_frame: str) -> str:
    """The causes, most basic first; '' when the node saw nothing wrong."""
    parts = []
    if mismatched := _mismatched(inputs):
        parts.append('incompatible QoS on ' + '; '.join(mismatched)
                     + ' (qos_reliability:=auto follows the publishers)')
    if missing := _missing(inputs):
        parts.append('no publisher on ' + ', '.join(missing))
    received = {n: int(counts.get(f'received_{n}', 0)) for n in inputs}
    if any(received.values()):
        parts.append('received ' + ', '.join(f'{n}={k}' for n, k in received.items()))
    skipped = counts.get('skipped', {})
    no_pose = sum(int(skipped.get(r, 0)) for r in POSE_REASONS)
    if no_pose:
        source = (f"pose topic {inputs['pose']['topic']}" if 'pose' in inputs
                  else f'TF ({fixed_frame} -> camera frame)')
        parts.append(f'{no_pose} frame set(s) had no camera pose from {source}')
    other = {r: n for r, n in skipped.items() if r not in POSE_REASONS and n}
    if other:
        parts.append('skipped ' + ', '.join(f'{r}={n}' for r, n in sorted(other.items())))
    rejected = {k[len('rejected_'):]: v for k, v in counts.items()
                if k.startswith('rejected_') and v}
    if rejected:
        parts.append('rejected ' + ', '.join(f'{r}={n}' for r, n in sorted(rejected.items())))
    lost = {k[len('lost_'):]: v for k, v in counts.items() if k.startswith('lost_') and v}
    if lost:
        parts.append('lost in transport ' + ', '.join(f'{r}={n}' for r, n in lost.items()))
    if not parts and pose_kind:
        parts.append(f'nothing received yet (pose source {pose_kind})')
    return '; '.join(parts)
