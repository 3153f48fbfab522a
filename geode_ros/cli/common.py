"""Helpers shared by the console scripts."""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from geode_ros.errors import GeodeError
from geode_ros.ros.model_path import SHIPPED_MODEL, resolve_model
from geode_ros.scene.types import Answer, SceneReasoner

log = logging.getLogger(__name__)
T = TypeVar('T')


# Libraries that log import-time noise (missing optional CUDA kernels) at WARNING.
NOISY_LOGGERS = ('torchao', 'torch.utils._pytree')


def setup_logging(quiet: bool = False) -> None:
    """One log format for every tool; ``quiet`` keeps warnings only."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format='%(levelname)s %(name)s: %(message)s')
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def run_main(prog: str, main: Callable[[list[str] | None], T], argv: list[str] | None
             ) -> T | int:
    """``main(argv)``; a GeodeError (bad input, a missing file) becomes ``prog: error: ...``
    on stderr and exit status 2, never a traceback: every console script exits this way."""
    try:
        return main(argv)
    except GeodeError as exc:
        print(f'{prog}: error: {exc}', file=sys.stderr)
        return 2


def repo_root() -> Path:
    """The source checkout: the parent of the ``geode_ros`` package directory."""
    return Path(__file__).resolve().parents[2]


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """--device / --dtype / --quantization: how a GEODE model is loaded (all tools alike)."""
    parser.add_argument('--device', default='cpu', help='torch device for the model (cpu, cuda)')
    parser.add_argument('--dtype', default=None, help='float32, float16 or bfloat16')
    parser.add_argument('--quantization', default=None, choices=['int8', 'int4'],
                        help='weight-only quantisation of the LLM linears')


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model (the shipped model unless told otherwise, as the node and the launch) and
    --device / --dtype / --quantization."""
    parser.add_argument('--model', default=SHIPPED_MODEL,
                        help='GEODE model: a directory or the name of a shipped model (default: '
                             f'{SHIPPED_MODEL}, as geode_node); none = the geometric baseline '
                             '(room size only)')
    add_runtime_arguments(parser)


def load_reasoner(model: str | None, device: str = 'cpu', dtype: str | None = None,
                  quantization: str | None = None) -> SceneReasoner | None:
    """A GEODE model (a directory or a shipped model's name, as the node's ``model``
    parameter), or None for none (= the engine's geometric baseline)."""
    path = resolve_model(model or 'none')
    if path is None:
        log.info('--model none: the geometric baseline (answers room size only)')
        return None
    from geode_ros.model.geode import GeodeModel

    return GeodeModel.from_pretrained(path, device=device, dtype=dtype,
                                      quantization=quantization)


def ask(engine: Any, question: str, **extra: Any) -> tuple[Answer | None, dict[str, Any]]:
    """Answer one question on ``engine``: (answer or None, its ``answer_dict`` record). A
    GeodeError is the record's ``error``, not raised: one bad question never stops a run
    (geode-demo and geode-replay ask this way)."""
    try:
        answer = engine.query(question)
    except GeodeError as exc:
        return None, answer_dict(question, None, str(exc), **extra)
    return answer, answer_dict(question, answer, **extra)


def reasoner_name(reasoner: SceneReasoner | None, model: str | None) -> str:
    return str(model) if reasoner is not None and model else 'geometric-baseline'


def _finite(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def answer_dict(question: str, answer: Answer | None, error: str | None = None,
                **extra: Any) -> dict[str, Any]:
    """JSON-ready record of one answered (or failed) question."""
    out: dict[str, Any] = {'question': question, **extra}
    if answer is None:
        out.update(answer=None, values=[], boxes=[], stamp=None, frame_id=None,
                   question_type=None, timings={}, error=error)
        return out
    out.update(
        answer=answer.text,
        status=answer.status,
        program=answer.program.get('program', ''),
        values=[_finite(v) for v in answer.values],
        units=list(answer.units),
        boxes=[b.to_dict() for b in answer.boxes],
        stamp=float(answer.stamp),
        frame_id=answer.frame_id,
        question_type=answer.question_type,
        timings={k: float(v) for k, v in answer.timings.items()},
        error=error,
    )
    return out


def write_json(data: Any, path: Path) -> Path:
    """Write ``data`` as indented JSON (creating parent folders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + '\n')
    return path


def interrupt_process(proc: subprocess.Popen, timeout: float = 30.0) -> int | None:
    """Stop a child the way Ctrl-C does (SIGINT), killing it if it has not exited within
    ``timeout`` s; its exit code (None if it never started)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
