"""Resumable training state without pickle: tensors in safetensors, the rest in JSON.

A run directory holds ``state.json`` (step, data position, optimizer/scheduler
hyper-state, numpy RNG, config, and the SHA-256 of the tensor file and of itself) and
``state-<step>.safetensors`` (trainable weights, optimizer moments, torch RNG).
``state.json`` is replaced atomically last, so an interrupted save (even SIGKILL)
leaves the previous state usable. Loading never executes code from the files; a
file whose checksum does not match is refused with a message saying what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from geode_ros.config import to_dict
from geode_ros.errors import GeodeError

STATE_JSON = 'state.json'
FORMAT = 'geode-train-state/1'


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(',', ':')).encode()


def _to_json(value: Any) -> Any:
    """JSON form of optimizer/scheduler hyper-state; tuples tagged so they come back."""
    if isinstance(value, tuple):
        return {'__tuple__': [_to_json(v) for v in value]}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {'__dict__': [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise GeodeError(f'training state holds a {type(value).__name__}, which is not saved '
                     'without pickle')


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        if '__tuple__' in value:
            return tuple(_from_json(v) for v in value['__tuple__'])
        if '__dict__' in value:
            return {_from_json(k): _from_json(v) for k, v in value['__dict__']}
        raise GeodeError('training state JSON has an unknown object')
    return value


def _split_optim(sd: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer state_dict -> (tensors by flat name, JSON-able rest)."""
    tensors: dict[str, torch.Tensor] = {}
    rest: dict[str, Any] = {}
    for idx, slots in sd['state'].items():
        plain = {}
        for key, val in slots.items():
            if torch.is_tensor(val):
                tensors[f'optim.{idx}.{key}'] = val.detach().cpu().contiguous()
            else:
                plain[key] = val
        rest[str(idx)] = plain
    return tensors, {'state': _to_json(rest), 'param_groups': _to_json(sd['param_groups'])}


def _join_optim(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {int(k): dict(v) for k, v in _from_json(
        meta['state']).items()}
    for name, val in tensors.items():
        if name.startswith('optim.'):
            _, idx, key = name.split('.', 2)
            state.setdefault(int(idx), {})[key] = val
    return {'state': state, 'param_groups': _from_json(meta['param_groups'])}


def save_trainer_state(trainer: Any) -> Path:
    """Write the trainer's resumable state into ``trainer.out``; returns ``state.json``."""
    out = Path(trainer.out)
    tensors = {f'trainable.{k}': v.contiguous() for k, v in trainer._trainable_state().items()}
    optim_tensors, optim_meta = _split_optim(trainer.optim.state_dict())
    tensors.update(optim_tensors)
    tensors['rng.torch'] = torch.get_rng_state()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors['rng.numpy'] = torch.from_numpy(np.asarray(keys, np.int64))
    name = f'state-{trainer.step}.safetensors'
    tmp = out / f'{name}.tmp'
    save_file(tensors, str(tmp))
    tmp.replace(out / name)
    payload = {
        'format': FORMAT, 'step': int(trainer.step), 'epoch': int(trainer.epoch),
        'pos': int(trainer.pos), 'order': [int(i) for i in trainer.order],
        'optim': optim_meta, 'sched': _to_json(trainer.sched.state_dict()),
        'numpy_rng': [kind, int(pos), int(has_gauss), float(cached)],
        'config': to_dict(trainer.cfg), 'tensors': name,
        'tensors_sha256': _sha256((out / name).read_bytes()),
    }
    doc = {'payload': payload, 'sha256': _sha256(_canonical(payload))}
    tmp_json = out / f'{STATE_JSON}.tmp'
    tmp_json.write_text(json.dumps(doc))
    with open(tmp_json, 'rb') as f:
        os.fsync(f.fileno())
    tmp_json.replace(out / STATE_JSON)  # the commit point
    for old in out.glob('state-*.safetensors'):
        if old.name != name:
            old.unlink(missing_ok=True)
    return out / STATE_JSON


def _read(out: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    path = out / STATE_JSON
    hint = f'delete {path} to start over'
    try:
        doc = json.loads(path.read_text())
        payload, digest = doc['payload'], doc['sha256']
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GeodeError(f'cannot read training state {path} ({exc}); {hint}') from exc
    if _sha256(_canonical(payload)) != digest:
        raise GeodeError(f'training state {path} was modified (checksum mismatch); {hint}')
    if payload.get('format') != FORMAT:
        raise GeodeError(f'training state {path} has format {payload.get("format")!r}, '
                         f'expected {FORMAT!r}; {hint}')
    tensor_path = out / str(payload['tensors'])
    if tensor_path.parent != out:
        raise GeodeError(f'training state {path} points outside its directory; {hint}')
    try:
        raw = tensor_path.read_bytes()
    except OSError as exc:
        raise GeodeError(f'training state tensors {tensor_path} missing ({exc}); {hint}'
                         ) from exc
    if _sha256(raw) != payload['tensors_sha256']:
        raise GeodeError(f'training state tensors {tensor_path} were modified (checksum '
                         f'mismatch); {hint}')
    return payload, load_file(str(tensor_path))


def load_trainer_state(trainer: Any) -> bool:
    """Restore ``trainer`` from ``trainer.out``; False when there is no saved state."""
    out = Path(trainer.out)
    if not (out / STATE_JSON).is_file():
        if (out / 'state.pt').is_file():
            raise GeodeError(f'{out / "state.pt"} is a pickled state of an older version, '
                             'which is no longer loaded (pickle can run code); delete it and '
                             'train from the last saved model with --init')
        return False
    payload, tensors = _read(out)
    params = dict(trainer.model.named_parameters())
    trainable = {k[len('trainable.'):]: v for k, v in tensors.items()
                 if k.startswith('trainable.')}
    missing = set(trainable) - set(params)
    if missing or not trainable:
        raise GeodeError(f'{out / STATE_JSON} does not match this model/stage: '
                         f'{sorted(missing)[:3]}')
    with torch.no_grad():
        for name, value in trainable.items():
            params[name].copy_(value.to(params[name].device))
    try:
        trainer.optim.load_state_dict(_join_optim(tensors, payload['optim']))
        trainer.sched.load_state_dict(_from_json(payload['sched']))
    except (KeyError, ValueError, RuntimeError) as exc:
        raise GeodeError(f'{out / STATE_JSON}: optimizer/scheduler state does not fit this '
                         f'run ({exc})') from exc
    trainer.step, trainer.epoch, trainer.pos = payload['step'], payload['epoch'], payload['pos']
    trainer.order = list(payload['order'])
    torch.set_rng_state(tensors['rng.torch'])
    kind, pos, has_gauss, cached = payload['numpy_rng']
    keys = tensors['rng.numpy'].numpy().astype(np.uint32)
    np.random.set_state((kind, keys, pos, has_gauss, cached))
    return True
