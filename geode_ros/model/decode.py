"""Greedy decoding with a KV cache, where <reg>/<box> become DRH values in the text.

When the LLM emits ``<reg>`` (or ``<box>``) the token is fed back as usual; the hidden
state at that position goes through the DRH and the decoded number (or box) is rendered
into the answer text in place of the token. A numeric answer therefore costs one
decode step for the value instead of one per digit. In the 'digits' ablation
(``numeric_output='digits'``) no DRH call is made: values and boxes are parsed from the
generated text with the inverses of the DRH path's render functions (empty when the
text does not parse, which scores 0).

Multiple-choice questions whose options are listed (``choice_answer='option_text'``) are
not decoded token by token: each option's text (+ end of turn) is scored by its
log-likelihood after the prompt, in one batched pass over a copy of the prompt's KV
cache, and the most likely option is the answer ("B. lamp"). This is the usual
likelihood protocol for multiple choice with language models; the answer is always
one of the options.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import torch

from geode_ros.model.batch import GeodeBatch
from geode_ros.model.config import BOX_TYPES, CHOICE_TYPES, NUMERIC_TYPES
from geode_ros.model.drh import parse_box, parse_value, render_box, render_value
from geode_ros.model.prompt import BOX, REG
from geode_ros.model.protocol import GeodeLike


@dataclass
class Generation:
    """One decoded answer: rendered text, DRH values and boxes, raw ids, timings (s)."""

    text: str
    values: list[float] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)  # [cx, cy, cz, sx, sy, sz, yaw]
    token_ids: list[int] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    option_logprobs: list[float] = field(default_factory=list)  # scored choices, in order
    extras: dict = field(default_factory=dict)  # other readings (e.g. from detections)


@dataclass
class DecodeState:
    """KV cache, attention mask and next positions of a batch being decoded."""

    cache: object
    attention_mask: torch.Tensor  # [B, T_so_far]
    next_pos: torch.Tensor  # [B]
    n_pos: int  # P: position channels (3 for M-RoPE)
    hidden: torch.Tensor  # [B, D] last hidden state


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def prefill(model: GeodeLike, batch: GeodeBatch, spatio: torch.Tensor | None = None
            ) -> DecodeState:
    """Run the prompt through the LLM, filling a fresh KV cache."""
    from transformers import DynamicCache

    lm = model.adapter.language_model
    cache = DynamicCache(config=lm.config)
    emb = model.embed_inputs(batch, spatio)
    out = lm(inputs_embeds=emb, attention_mask=batch.attention_mask,
             position_ids=model.adapter.lm_positions(batch.position_ids), cache=cache,
             use_cache=True)
    return DecodeState(cache, batch.attention_mask, batch.position_ids.amax(dim=(0, 2)) + 1,
                       batch.position_ids.shape[0], out.last_hidden_state[:, -1])


def step(model: GeodeLike, state: DecodeState, tokens: torch.Tensor) -> DecodeState:
    """Feed one token per row [B]; update the state in place and return it."""
    b = tokens.shape[0]
    emb = model.adapter.embed_tokens(tokens).unsqueeze(1)  # [B, 1, D]
    state.attention_mask = torch.cat(
        [state.attention_mask, state.attention_mask.new_ones(b, 1)], dim=1)
    pos = state.next_pos.view(1, b, 1).expand(state.n_pos, b, 1)
    out = model.adapter.language_model(
        inputs_embeds=emb, attention_mask=state.attention_mask,
        position_ids=model.adapter.lm_positions(pos), cache=state.cache, use_cache=True)
    state.next_pos = state.next_pos + 1
    state.hidden = out.last_hidden_state[:, -1]
    return state


def score_options(model: GeodeLike, batch: GeodeBatch, state: DecodeState, rows: list[int]
                  ) -> dict[int, tuple[int, list[int], list[float]]]:
    """Log-likelihood of each listed option's text after the prompt, for ``rows``.

    ``state`` must be fresh from ``prefill`` (it is not modified). Returns, per row, the
    index and token ids of the best option and the summed log-probability of every option.
    """
    tok, dev = model.tokenizer, model.device
    pairs, seqs = [], []
    for i in rows:
        for _, text in batch.options[i]:
            pairs.append(i)
            seqs.append(tok(text + model.end_of_turn, add_special_tokens=False)['input_ids'])
    n, length = len(seqs), max(len(x) for x in seqs)
    ids = torch.full((n, length), tok.pad_token_id, dtype=torch.long, device=dev)
    mask = torch.zeros((n, length), dtype=torch.long, device=dev)
    for k, x in enumerate(seqs):
        ids[k, :len(x)], mask[k, :len(x)] = torch.tensor(x, device=dev), 1
    src = torch.tensor(pairs, device=dev)
    cache = copy.deepcopy(state.cache)
    cache.batch_select_indices(src)  # one copy of its prompt's cache per option
    pos = state.next_pos[src][:, None] + torch.arange(length, device=dev)  # [n, L]
    out = model.adapter.language_model(
        inputs_embeds=model.adapter.embed_tokens(ids),
        attention_mask=torch.cat([state.attention_mask[src], mask], dim=1),
        position_ids=model.adapter.lm_positions(pos.unsqueeze(0).expand(state.n_pos, n, length)),
        cache=cache, use_cache=True)
    # an option's token t is predicted by the hidden state before it (first: the prompt's last)
    hidden = torch.cat([state.hidden[src].unsqueeze(1), out.last_hidden_state[:, :-1]], dim=1)
    logp = model.adapter.lm_head(hidden).float().log_softmax(-1)
    score = (logp.gather(-1, ids.unsqueeze(-1)).squeeze(-1) * mask).sum(1).tolist()
    result: dict[int, tuple[int, list[int], list[float]]] = {}
    k = 0
    for i in rows:
        scores = score[k:k + len(batch.options[i])]
        best = max(range(len(scores)), key=scores.__getitem__)
        result[i] = (best, seqs[k + best], scores)
        k += len(scores)
    return result


def greedy_generate(model: GeodeLike, batch: GeodeBatch, max_new_tokens: int,
                    spatio: torch.Tensor | None = None) -> list[Generation]:
    """Decode every row of ``batch`` (left padded, ``train=False``): greedily, or by
    option likelihood for choice questions with listed options (module docstring).
    ``spatio``: the DRM's <spatio> embeddings when already computed."""
    dev = model.device
    reg_id, box_id = model.token_ids[REG], model.token_ids[BOX]
    digits = model.config.numeric_output == 'digits'
    stop = torch.tensor(sorted(model.stop_ids), device=dev)
    _sync(dev)
    t0 = time.perf_counter()
    if spatio is None:
        spatio = model.spatio_embeddings(batch)
    _sync(dev)
    t1 = time.perf_counter()
    state = prefill(model, batch, spatio)
    _sync(dev)
    t2 = time.perf_counter()
    b = batch.input_ids.shape[0]
    scored: dict[int, tuple[int, list[int], list[float]]] = {}
    if model.config.choice_answer == 'option_text':
        rows = [i for i in range(b) if batch.qtypes[i] in CHOICE_TYPES and batch.options[i]]
        scored = score_options(model, batch, state, rows) if rows else {}
    _sync(dev)
    t_scored = time.perf_counter()
    done = torch.zeros(b, dtype=torch.bool, device=dev)
    done[list(scored)] = True
    ids: list[list[int]] = [list(scored[i][1]) if i in scored else [] for i in range(b)]
    values: list[list[float]] = [[] for _ in range(b)]
    boxes: list[list[list[float]]] = [[] for _ in range(b)]
    pad = model.tokenizer.pad_token_id
    # A numeric question is answered by <reg> (what stage 2 trains): forcing it as the first
    # token makes every numeric answer a number, never text or a box.
    numeric = torch.tensor([q in NUMERIC_TYPES and not digits for q in batch.qtypes], device=dev)
    for n in range(max_new_tokens):
        logits = model.adapter.lm_head(state.hidden)  # [B, V]
        tok = logits.argmax(-1)
        if n == 0:
            tok = torch.where(numeric, torch.full_like(tok, reg_id), tok)
        tok = tok.masked_fill(done, pad)
        for i in (~done).nonzero().flatten().tolist():
            ids[i].append(int(tok[i]))
        done = done | torch.isin(tok, stop)
        if bool(done.all()):
            break
        state = step(model, state, tok)
        if not digits:
            _read_values(model, batch, state.hidden, tok, reg_id, box_id, values, boxes)
    _sync(dev)
    t3 = time.perf_counter()
    timings = {'drm': t1 - t0, 'prefill': t2 - t1, 'decode': t3 - t_scored}
    if scored:
        timings['option_scoring'] = t_scored - t2
    gens = [Generation(_render(model, ids[i], values[i], boxes[i], batch.qtypes[i]),
                       values[i], boxes[i], ids[i], dict(timings)) for i in range(b)]
    for i, (best, _, scores) in scored.items():  # "B. lamp": the letter and the option's text
        letter, text = batch.options[i][best]
        gens[i].text, gens[i].option_logprobs = f'{letter}. {text}', scores
    if digits:
        for g, qtype in zip(gens, batch.qtypes):
            _parse_values(g, qtype)
    return gens


def _parse_values(gen: Generation, qtype: str) -> None:
    """Digits mode: fill ``values`` / ``boxes`` from the spelled answer text."""
    if qtype in NUMERIC_TYPES:
        v = parse_value(gen.text)
        gen.values = [v] if v is not None else []
    elif qtype in BOX_TYPES:
        bx = parse_box(gen.text)
        gen.boxes = [bx] if bx is not None else []


def _read_values(model: GeodeLike, batch: GeodeBatch, hidden: torch.Tensor, tok: torch.Tensor,
                 reg_id: int, box_id: int, values: list, boxes: list) -> None:
    """DRH read-out for rows whose just-fed token is <reg> or <box>."""
    rows = (tok == reg_id).nonzero().flatten()
    if len(rows):
        z = model.drh.predict_value(hidden[rows], batch.value_type[rows])
        for i, v in zip(rows.tolist(), model.drh.decode_value(z, batch.value_type[rows]).tolist()):
            values[i].append(float(v))
    rows = (tok == box_id).nonzero().flatten()
    if len(rows):
        z = model.drh.predict_box(hidden[rows])
        for i, bx in zip(rows.tolist(), model.drh.decode_box(z, batch.scene_center[rows].float())
                         .tolist()):
            boxes[i].append([float(x) for x in bx])


def _render(model: GeodeLike, ids: list[int], values: list[float], boxes: list[list[float]],
            qtype: str) -> str:
    """Token ids -> text, each <reg>/<box> replaced by its rendered value."""
    reg_id, box_id = model.token_ids[REG], model.token_ids[BOX]
    ids = [i for i in ids if i not in model.stop_ids]
    parts, seg, vi, bi = [], [], iter(values), iter(boxes)
    wrong_kind = box_id if qtype in NUMERIC_TYPES else reg_id if qtype in BOX_TYPES else None
    for i in ids:
        if i == wrong_kind:  # a box in a numeric answer (or a number in a box): not rendered
            continue
        if i in (reg_id, box_id):
            parts.append(model.tokenizer.decode(seg, skip_special_tokens=True))
            seg = []
            val = next(vi, None) if i == reg_id else next(bi, None)
            if val is not None:
                parts.append(render_value(qtype, val) if i == reg_id else render_box(val))
        else:
            seg.append(i)
    parts.append(model.tokenizer.decode(seg, skip_special_tokens=True))
    return ''.join(parts).strip()
