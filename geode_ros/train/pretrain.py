"""Stage 0: language pretraining of a tiny VLM built from scratch.

GEODE's stage 1 freezes a *pretrained* LLM and teaches the DRM to make `<spatio>`
embeddings that the LLM turns into the rationale. A random tiny LLM cannot read
anything, so when ``geode-train`` builds its own tiny VLM it first pretrains the LLM
on the QA text (question -> rationale, in the chat format of stage 1, `<spatio>` slots
zeroed). This stands in for the pretraining a real VLM already had; with real
weights (``--init``) it is skipped.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

import numpy as np
import torch
from tqdm import tqdm

from geode_ros.data.qa import QARecord
from geode_ros.model.batch import GeodeSample, prepare_batch
from geode_ros.train.scenes import question_with_options

log = logging.getLogger(__name__)


def _text_sample(record: QARecord) -> GeodeSample:
    empty = torch.zeros(0, 3).numpy()
    return GeodeSample(question_with_options(record), empty, empty.astype('uint8'), [],
                       qtype=record.type, rationale=record.rationale)


def pretrain_language_model(model, records: Sequence[QARecord], steps: int, batch_size: int,
                            lr: float, seed: int = 0, progress: bool = True,
                            program_records: Sequence[QARecord] = (),
                            phrasings=None) -> list[float]:
    """Train the LLM (embeddings, blocks, head) on question -> rationale, and on question ->
    program (``ProgramConfig.train_share`` of each batch); return the losses."""
    from geode_ros.train.programs import program_samples

    usable = [r for r in records if r.rationale]
    if steps <= 0 or not usable:
        return []
    model.requires_grad_(False)
    model.adapter.language_model.requires_grad_(True)
    model.adapter.lm_head.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, max_lr=lr, total_steps=steps,
                                                pct_start=0.1)
    rng = random.Random(seed)
    k = model.config.drm.num_rationale_queries
    hidden = model.adapter.hidden_size
    losses = []
    model.train()
    bar = tqdm(range(steps), desc='stage 0 (LM)', unit='step', disable=not progress)
    pc = model.config.programs
    n_prog = round(batch_size * pc.train_share) if pc.enabled else 0
    for step in bar:
        samples = [_text_sample(r) for r in rng.sample(usable, min(batch_size, len(usable)))]
        samples += program_samples(np.random.default_rng([seed, step]),
                                   model.config.objects.classes, n_prog, program_records,
                                   phrasings)
        batch = prepare_batch(model, samples, stage=1, train=True, seed=step).to(model.device)
        zeros = torch.zeros(len(samples), k, hidden, device=model.device)
        out = model(batch, spatio=zeros)
        optim.zero_grad(set_to_none=True)
        out.ce_loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optim.step()
        sched.step()
        losses.append(float(out.ce_loss.detach()))
        bar.set_postfix(loss=f'{losses[-1]:.3f}')
    model.requires_grad_(False)
    log.info('stage 0: LM loss %.3f -> %.3f over %d steps', losses[0], losses[-1], steps)
    return losses
