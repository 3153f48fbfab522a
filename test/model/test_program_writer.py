"""The VLM writes query programs: grammar-constrained, from its own chat template."""

from __future__ import annotations

import pytest
import regex
import torch

from geode_ros.model.batch import prepare_batch
from geode_ros.model.config import ObjectConfig, ProgramConfig
from geode_ros.model.prompt import PROGRAM, SPATIO
from geode_ros.model.tiny import ARCHITECTURES
from geode_ros.query.parse import parse_rules
from geode_ros.query.program import program_pattern
from geode_ros.train.programs import program_sample

CLASSES = ('chair', 'sofa', 'tv')


def _model(make_model, arch: str, grammar: bool):
    return make_model(arch, objects=ObjectConfig(classes=CLASSES),
                      programs=ProgramConfig(grammar_in_prompt=grammar))


@pytest.mark.parametrize('arch', ARCHITECTURES)
def test_an_untrained_vlm_writes_only_valid_programs(make_model, arch):
    """Random weights, no training: whatever the VLM would say, decoding keeps it inside
    the grammar over the model's own classes, so the program validates and can run."""
    m = _model(make_model, arch, grammar=True)
    pattern = regex.compile(program_pattern(CLASSES))
    for question in ('how far is the couch from the telly?', 'uh, any seats in here',
                     'Tell me a joke.'):
        program = m.write_program(question)
        if program is None:  # it may decline: none()
            continue
        assert program.source == 'vlm' and pattern.fullmatch(program.text), program.text
        assert set(program.labels) <= set(CLASSES)
    # the prompt is the model's own chat template: grammar and classes in the system turn,
    # no image tokens and no <spatio> slots
    batch = prepare_batch(m, [program_sample('where is the tv?', 'where(tv)')], train=False)
    text = m.tokenizer.decode(batch.input_ids[0])
    assert 'Kinds:' in text and 'chair, sofa, tv' in text and 'where is the tv?' in text
    assert not (batch.input_ids == m.token_ids[SPATIO]).any()
    assert not (batch.input_ids == m.adapter.image_token_id).any()


def test_a_vlm_trained_on_programs_writes_them_and_answers_what_rules_cannot(make_model):
    """Teach the tiny VLM three wordings the rules do not read; it then writes their
    programs, and ``understand`` uses it only where the rules fail."""
    m = _model(make_model, 'qwen2_vl', grammar=False)
    pairs = [('kindly glorp the sofas for me', 'count(sofa)'),
             ('zorp me toward that telly thing', 'where(tv)'),
             ('blorf the seat from bot in feet', 'distance(robot, chair; unit=ft)')]
    for question, _ in pairs:  # wordings the rules do not read
        assert parse_rules(question, m.lexicon) is None, question
    m.set_stage(2)
    opt = torch.optim.Adam(m.trainable_parameters(), lr=3e-3)
    batch = prepare_batch(m, [program_sample(q, p) for q, p in pairs], train=True, seed=0)
    assert batch.qtypes == [PROGRAM] * 3
    m.train()
    for _ in range(150):
        out = m(batch)
        opt.zero_grad()
        out.ce_loss.backward()
        opt.step()
        if float(out.ce_loss) < 0.01:
            break
    m.eval()
    for question, text in pairs:
        program = m.understand(question)
        assert program.text == text and program.source == 'vlm', question
    rules = m.understand('how many sofas are there?')  # the rules read it: no VLM call
    assert rules.source == 'rules' and rules.text == 'count(sofa)'


def test_declining_and_rules_first(make_model):
    from geode_ros.query.program import QueryError

    m = _model(make_model, 'qwen2_vl', grammar=False)
    m.config.programs.enabled = False
    with pytest.raises(QueryError, match='cannot parse'):
        m.understand('kindly glorp the sofas for me')  # no rule reads it, and the VLM is off
