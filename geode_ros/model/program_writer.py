"""The VLM writes a query program when the rules cannot read a question.

The prompt is the question in the VLM's own chat template, under a system message that
asks for a program (with the grammar, classes and examples spelled out for a VLM that
was not trained on programs; ``ProgramConfig.grammar_in_prompt``). Decoding is greedy
and constrained: at each step the most likely token that keeps the text a prefix of
some program of the grammar (``geode_ros.query.program.program_pattern``, checked with
the ``regex`` module's partial matching) is taken, and the turn may only end on a
complete program. What comes out is therefore always a valid program over the model's
own classes; it is parsed and validated like any other before it runs.
"""

from __future__ import annotations

import numpy as np
import regex
import torch

from geode_ros.model.batch import GeodeSample, prepare_batch
from geode_ros.model.decode import prefill, step
from geode_ros.model.prompt import PROGRAM
from geode_ros.query.program import Program, QueryError, parse_program_text, program_pattern


def grammar(classes: tuple[str, ...]) -> regex.Pattern:
    """The compiled program grammar over ``classes`` (leading spaces allowed)."""
    return regex.compile(r'\s*' + program_pattern(classes))


class ProgramWriter:
    """Constrained program decoding for one model (caches the grammar and token texts)."""

    def __init__(self, model) -> None:
        self.model = model
        self.classes = tuple(model.config.objects.classes)
        self.pattern = grammar(self.classes) if self.classes else None
        self._pieces: dict[int, str] = {}

    def _text(self, ids: list[int]) -> str:
        return self.model.tokenizer.decode(ids, skip_special_tokens=False)

    def _piece(self, tok: int) -> str:
        """The text one token adds (cached; programs are ASCII, so pieces concatenate)."""
        piece = self._pieces.get(tok)
        if piece is None:
            piece = self._pieces[tok] = self._text([tok])
        return piece

    def _pick(self, logits: torch.Tensor, text: str) -> int | None:
        """The most likely token the grammar allows next (a stop token only after a
        complete program); None when none of the ``candidates`` most likely fits."""
        stops = self.model.stop_ids
        complete = bool(self.pattern.fullmatch(text))
        cfg = self.model.config.programs
        order = torch.topk(logits, min(cfg.candidates, logits.numel())).indices
        for tok in order.tolist():
            if tok in stops:
                if complete:
                    return tok
                continue
            if self.pattern.fullmatch(text + self._piece(tok), partial=True):
                return tok
        return None

    @torch.no_grad()
    def __call__(self, question: str) -> Program | None:
        """The program the VLM writes for ``question``; None when it cannot write one."""
        model = self.model
        if self.pattern is None:
            return None
        empty = np.zeros((0, 3), np.float32)
        sample = GeodeSample(question, empty, empty.astype(np.uint8), [], qtype=PROGRAM)
        batch = prepare_batch(model, [sample], stage=2, train=False, seed=0).to(model.device)
        state = prefill(model, batch)
        ids: list[int] = []
        text = ''
        for _ in range(model.config.programs.max_new_tokens):
            logits = model.adapter.lm_head(state.hidden)[0].float()
            tok = self._pick(logits, text)
            if tok is None or tok in model.stop_ids:
                break
            ids.append(tok)
            text = self._text(ids)
            state = step(model, state, torch.tensor([tok], device=model.device))
        if not self.pattern.fullmatch(text):
            return None
        try:
            return parse_program_text(text.strip(), model.lexicon.resolve).with_source('vlm')
        except QueryError:
            return None
