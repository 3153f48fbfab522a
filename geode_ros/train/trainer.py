"""The training loop of both stages, with resume, accumulation and JSONL logs.

Run directory layout (``TrainConfig.out``):
- ``init/``     the model the run started from (a GEODE checkpoint), written once;
- ``state.json`` + ``state-<step>.safetensors``  trainable weights, optimizer, scheduler,
                RNG, step and data position, no pickle (``train_state.py``; written every
                ``checkpoint_every`` steps; ``--resume`` continues from it);
- ``model/``    the final GEODE checkpoint (``save_pretrained``);
- ``log.jsonl`` one line per logged step and per eval (TensorBoard too when installed).

Single process on CPU/GPU as is; under ``torchrun`` each rank trains on its share of
every batch in DistributedDataParallel and rank 0 writes the files.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from geode_ros.config import to_dict
from geode_ros.errors import GeodeError
from geode_ros.model.batch import prepare_batch
from geode_ros.model.checkpoint import save_pretrained
from geode_ros.model.geode import GeodeModel
from geode_ros.train.config import TrainConfig
from geode_ros.train.evaluate import evaluate
from geode_ros.train.programs import PhrasingTemplates
from geode_ros.train.run_setup import build_initial_model, check_config, data_root, load_records
from geode_ros.train.sampling import epoch_order
from geode_ros.train.scenes import SceneStore
from geode_ros.train.train_state import load_trainer_state, save_trainer_state

log = logging.getLogger(__name__)


def _lr_lambda(cfg: TrainConfig):
    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / max(1, cfg.warmup_steps)
        frac = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
    return f


def _autocast(cfg: TrainConfig, device: torch.device):
    mode = cfg.mixed_precision
    if mode == 'auto':
        mode = 'bf16' if device.type == 'cuda' else 'none'
    if mode == 'none':
        return nullcontext()
    dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16}.get(mode)
    if dtype is None:
        raise GeodeError(f'mixed_precision must be auto, bf16, fp16 or none, got {mode!r}')
    return torch.autocast(device.type, dtype=dtype)


class Trainer:
    """One run of one stage (see the module docstring for the files it writes)."""

    def __init__(self, cfg: TrainConfig, progress: bool = True,
                 scenes: SceneStore | None = None, eval_scenes: SceneStore | None = None
                 ) -> None:
        """``scenes`` / ``eval_scenes``: scene caches to reuse (valid for models that share
        one frozen vision tower, as the ablation's variants do)."""
        check_config(cfg)
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.progress = progress
        self.rank = int(os.environ.get('RANK', 0))
        self.world = int(os.environ.get('WORLD_SIZE', 1))
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = 'nccl' if torch.cuda.is_available() else 'gloo'
            torch.distributed.init_process_group(backend)
            if torch.cuda.is_available():
                local = int(os.environ.get('LOCAL_RANK', 0))
                torch.cuda.set_device(local)
                cfg.model.device = f'cuda:{local}'
        self.records = load_records(cfg.data, cfg.stage, cfg.types)
        self.program_records = (load_records(cfg.data, 2, cfg.types, llm_targets=False)
                                if cfg.stage == 2 else [])
        self.phrasings = None
        self.eval_records = (load_records(cfg.eval_data, 2, cfg.types, llm_targets=False)
                             if cfg.eval_data else [])
        self.out.mkdir(parents=True, exist_ok=True)
        init_dir = self.out / 'init'
        if (init_dir / 'manifest.json').is_file():
            self.model = GeodeModel.from_pretrained(init_dir, device=cfg.model.device)
            self.model.config.lora = cfg.model.lora
        else:
            self.model = build_initial_model(cfg, self.records, progress)
            if self.rank == 0:
                save_pretrained(self.model, init_dir)
        self.model.set_stage(cfg.stage, train_drm=cfg.stage2_trains_drm)
        if cfg.stage == 2:
            self._fit_value_stats()
            self.phrasings = PhrasingTemplates(cfg.program_phrasings,
                                               self.model.config.objects.classes)
        self.model.train()
        self.params = self.model.trainable_parameters()
        if not self.params:
            raise GeodeError(f'stage {cfg.stage} has nothing to train')
        self.optim = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.optim, _lr_lambda(cfg))
        self.store = scenes or SceneStore(data_root(cfg.data), self.model, cfg.scene)
        self.eval_store = eval_scenes or (
            SceneStore(data_root(cfg.eval_data), self.model, cfg.scene) if cfg.eval_data
            else None)
        for store in (self.store, self.eval_store):
            if store is not None:
                store.model = self.model  # encode any new scene with this run's model
        self.step = 0
        self.order: list[int] = []
        self.pos = 0
        self.epoch = 0
        self.ddp = None
        if self.world > 1:
            self.ddp = torch.nn.parallel.DistributedDataParallel(
                self.model, find_unused_parameters=True)
        self._tb = None

    def _fit_value_stats(self) -> None:
        """Normalise each numeric type by its training distribution (deterministic)."""
        from geode_ros.model.config import NUMERIC_TYPES

        for qtype in NUMERIC_TYPES:
            values = [r.value for r in self.records if r.type == qtype and r.value is not None]
            if len(values) >= 2:
                self.model.drh.fit_value_stats(qtype, torch.tensor(values))

    # --- data order: a seeded permutation per epoch, position saved for resume -----------
    def _next_indices(self, n: int) -> list[int]:
        out = []
        while len(out) < n:
            if self.pos >= len(self.order):
                self.order = epoch_order([r.type for r in self.records],
                                         self.cfg.seed * 1000 + self.epoch, self.cfg.type_balance)
                self.epoch += 1
                self.pos = 0
            out.append(self.order[self.pos])
            self.pos += 1
        return out

    # --- checkpoints ----------------------------------------------------------------------
    def _trainable_state(self) -> dict[str, torch.Tensor]:
        names = {id(p): n for n, p in self.model.named_parameters()}
        return {names[id(p)]: p.detach().cpu().clone() for p in self.params}

    def save_state(self) -> None:
        if self.rank == 0:
            save_trainer_state(self)  # safetensors + JSON, no pickle (train_state.py)

    def load_state(self) -> bool:
        return load_trainer_state(self)

    # --- logging ----------------------------------------------------------------------------
    def _log(self, record: dict) -> None:
        if self.rank != 0:
            return
        with (self.out / 'log.jsonl').open('a') as f:
            f.write(json.dumps(record) + '\n')
        if self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self._tb = SummaryWriter(str(self.out / 'tb'))
            except ImportError:
                self._tb = False
        if self._tb:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k != 'step':
                    self._tb.add_scalar(k, v, record['step'])

    # --- the loop -----------------------------------------------------------------------------
    def _micro_batch(self, indices: list[int]):
        from geode_ros.train.programs import program_samples

        share = indices[self.rank::self.world] or indices[:1]
        samples = [self.store.sample(self.records[i]) for i in share]
        pc = self.model.config.programs
        if self.cfg.stage == 2 and pc.enabled and pc.train_share > 0:
            rng = np.random.default_rng([self.cfg.seed, self.step, self.rank])
            n = max(1, round(len(samples) * pc.train_share))
            samples += program_samples(rng, self.model.config.objects.classes, n,
                                       self.program_records, self.phrasings)
        return prepare_batch(self.model, samples, stage=self.cfg.stage, train=True,
                             seed=self.step * 7919 + self.rank).to(self.model.device)

    def train_step(self) -> dict[str, float]:
        """One optimizer step over ``grad_accum`` micro-batches; returns the mean losses."""
        cfg = self.cfg
        module = self.ddp or self.model
        totals = {'loss': 0.0, 'ce_loss': 0.0, 'value_loss': 0.0, 'box_loss': 0.0}
        extras: dict[str, float] = {}
        self.optim.zero_grad(set_to_none=True)
        for _ in range(cfg.grad_accum):
            batch = self._micro_batch(self._next_indices(cfg.batch_size))
            with _autocast(cfg, self.model.device):
                out = module(batch)
            (out.loss / cfg.grad_accum).backward()
            for k in totals:
                totals[k] += float(getattr(out, k).detach()) / cfg.grad_accum
            for k, v in out.extras.items():
                extras[k] = extras.get(k, 0.0) + float(v) / cfg.grad_accum
        if not math.isfinite(totals['loss']):
            raise GeodeError(f'loss became {totals["loss"]} at step {self.step}: lower --lr')
        torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip)
        self.optim.step()
        self.sched.step()
        self.step += 1
        return {**totals, **extras}

    def detection_metrics(self) -> dict:
        """Held-out detection AP@0.25 of the DRM's object head (empty without one)."""
        from geode_ros.train.objects import evaluate_detection

        if not self.eval_records or self.rank != 0 or self.model.drm.objects is None:
            return {}
        ap = evaluate_detection(self.model, self.eval_store, self.eval_records)
        return {'eval_detection_mAP@0.25': ap.get('mAP', float('nan'))}

    def pretrain_objects(self) -> None:
        """Stage 1's object steps (``cfg.object_steps``), logged with the held-out AP."""
        from geode_ros.train.objects import pretrain_objects

        cfg = self.cfg
        if (cfg.stage != 1 and not cfg.refit_objects) or not cfg.object_steps or \
                self.model.drm.objects is None:
            return
        self._log({'step': 0, **self.detection_metrics()})
        grey = (SceneStore(data_root(cfg.data), self.model, cfg.scene, inputs='points-nocolor')
                if cfg.object_nocolor_share > 0 else None)
        losses = pretrain_objects(self.model, self.store, self.records, cfg.object_steps,
                                  cfg.object_scenes_per_step, cfg.object_lr, cfg.seed,
                                  self.progress and self.rank == 0, grey,
                                  cfg.object_nocolor_share)
        self.model.set_stage(cfg.stage, train_drm=cfg.stage2_trains_drm)
        log.info('object steps: loss %.3f -> %.3f', losses[0], np.mean(losses[-20:]))
        self._log({'step': 0, 'object_steps': len(losses), 'object_loss_first': losses[0],
                   'object_loss_last': float(np.mean(losses[-20:])),
                   **self.detection_metrics()})

    def calibrate(self) -> None:
        """The object head's temperature and thresholds, chosen on the validation scenes."""
        from geode_ros.train.calibrate import calibrate, scenes_of

        c = self.cfg
        if c.calibrate and self.eval_records and self.model.drm.objects is not None:
            self._log({'step': self.step, 'calibration': calibrate(
                self.model, self.eval_store, scenes_of(self.eval_records),
                c.calibration_precision, c.confident_precision)})

    @torch.no_grad()
    def run_eval(self) -> dict:
        """Stage 1: held-out rationale loss. Stage 2: VSI-Bench-style scores. Both: the
        object head's detection AP."""
        if not self.eval_records or self.rank != 0:
            return {}
        det = self.detection_metrics()
        recs = self.eval_records[:self.cfg.eval_samples]
        if self.cfg.stage == 1:
            # The rationale loss with the DRM's tokens and with zeros in their place: the
            # gap is what the DRM tells the frozen LLM.
            self.model.eval()
            losses, zeroed = [], []
            with torch.no_grad():
                for i in range(0, len(recs), self.cfg.batch_size):
                    samples = [self.eval_store.sample(r)
                               for r in recs[i:i + self.cfg.batch_size] if r.rationale]
                    if not samples:
                        continue
                    b = prepare_batch(self.model, samples, 1, True, seed=i).to(self.model.device)
                    spatio = self.model.spatio_embeddings(b)
                    losses.append(float(self.model(b, spatio=spatio).ce_loss))
                    zeroed.append(float(self.model(b, spatio=torch.zeros_like(spatio)).ce_loss))
            self.model.train()
            return ({'eval_rationale_ce': float(np.mean(losses)),
                     'eval_rationale_ce_zero_spatio': float(np.mean(zeroed)), **det}
                    if losses else det)
        result = evaluate(self.model, recs, self.eval_store, self.cfg.batch_size,
                          progress=False)
        return {**{f'eval_{k}': v for k, v in result.summary.items()}, **det}

    def fit(self, resume: bool = False, stop_at: int | None = None) -> Path | None:
        """Train to ``cfg.steps`` (continuing from ``state.json`` with ``resume``).

        ``stop_at`` ends the run early at that step with the state saved, as an
        interruption would; a later ``fit(resume=True)`` finishes it. Returns the final
        model directory, or None when stopped early.
        """
        cfg = self.cfg
        end = min(cfg.steps, stop_at) if stop_at else cfg.steps
        if resume and self.load_state():
            log.info('resumed from %s at step %d', self.out / 'state.json', self.step)
        elif self.step == 0:
            self.pretrain_objects()
        bar = tqdm(total=cfg.steps, initial=self.step, desc=f'stage {cfg.stage}', unit='step',
                   disable=not self.progress or self.rank != 0)
        t_last = time.perf_counter()
        while self.step < end:
            losses = self.train_step()
            bar.update(1)
            bar.set_postfix(loss=f'{losses["loss"]:.3f}')
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                now = time.perf_counter()
                self._log({'step': self.step, 'lr': self.sched.get_last_lr()[0], **losses,
                           'sec_per_step': (now - t_last) / cfg.log_every})
                t_last = now
            if cfg.eval_every and self.step % cfg.eval_every == 0:
                metrics = self.run_eval()
                if metrics:
                    self._log({'step': self.step, **metrics})
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                self.save_state()
        bar.close()
        self.save_state()
        if self.step < cfg.steps:
            return None
        final = self.out / 'model'
        if self.rank == 0:
            self.model.eval()
            self.calibrate()
            save_pretrained(self.model, final)
            (self.out / 'train_config.json').write_text(json.dumps(to_dict(cfg), indent=2))
        return final
