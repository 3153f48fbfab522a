"""GEODE special tokens, question types, prompts and training targets.

``<spatio>`` marks the K slots whose input embeddings the DRM supplies; ``<reg>`` and
``<box>`` are the control tokens whose hidden states the DRH turns into a number or a
3D box (in the 'digits' ablation, numbers and boxes are spelled as text instead).
Prompts are rendered by the VLM's own chat template; image marks are expanded to the
number of image tokens of each (cached) keyframe, as the VLM's processor does.

Multiple-choice questions list their options on their own lines ("A. sofa"). With
``choice_answer='option_text'`` the target is the chosen option's text, not its letter:
a letter carries only the position prior, while the text lets the model learn which
answers are likely (and is what the option-likelihood decode scores).
"""

from __future__ import annotations

from geode_ros.errors import GeodeError
from geode_ros.model.config import BOX_TYPES, CHOICE_TYPES, NUMERIC_TYPES
from geode_ros.query.vsi_templates import split_options

SPATIO, REG, BOX = '<spatio>', '<reg>', '<box>'
GEODE_TOKENS = (SPATIO, REG, BOX)
PROGRAM = 'program'  # the sample type of a question -> program text (VLM program writing)


def choice_text(question: str, answer: str) -> str:
    """The text of the option an answer letter picks ('B' -> 'lamp'); other answers as given."""
    a = answer.strip()
    letter = a.rstrip('.').upper()
    for le, text in split_options(question):
        if le == letter:
            return text
    return a


def answer_target(qtype: str, answer: str | None = None, value: float | None = None,
                  box: list[float] | None = None, numeric_output: str = 'drh',
                  question: str = '', choice_answer: str = 'letter') -> str:
    """Training target text: for choices the answer (its option's text from ``question``
    when ``choice_answer='option_text'``); for numbers ``<reg>`` and for boxes ``<box>``
    (``numeric_output='drh'``), or the value / box rendered as text ('digits'); for a
    grounding question about an absent object (no box) the answer text saying so."""
    from geode_ros.model.drh import render_box, render_value

    digits = numeric_output == 'digits'
    if qtype == PROGRAM:
        if not answer:
            raise GeodeError('a program-writing sample needs the program text as its answer')
        return answer.strip()
    if qtype in NUMERIC_TYPES:
        if not digits:
            return REG
        if value is not None:
            return render_value(qtype, float(value))
        if answer:
            return answer.strip()
        raise GeodeError(f'a {qtype} sample needs a value to spell (numeric_output=digits)')
    if qtype in BOX_TYPES:
        if box is None and answer:
            return answer.strip()  # an absent object: 'There is no lamp in this scene.'
        if not digits:
            return BOX
        if box is None:
            raise GeodeError(f'a {qtype} sample needs a box to spell (numeric_output=digits)')
        return render_box(box)
    if qtype in CHOICE_TYPES:
        if not answer:
            raise GeodeError(f'a {qtype} sample needs an answer text')
        return choice_text(question, answer) if choice_answer == 'option_text' else answer.strip()
    raise GeodeError(f'unknown question type {qtype!r}')


def add_geode_tokens(tokenizer, vlm) -> dict[str, int]:
    """Add <spatio>/<reg>/<box> as special tokens; grow the VLM's embeddings if needed."""
    missing = [t for t in GEODE_TOKENS if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({'extra_special_tokens': missing},
                                     replace_extra_special_tokens=False)
    n = len(tokenizer)
    if vlm.get_input_embeddings().num_embeddings < n:
        vlm.resize_token_embeddings(n, mean_resizing=True)
    return {t: tokenizer.convert_tokens_to_ids(t) for t in GEODE_TOKENS}


def end_of_turn_token(tokenizer) -> str:
    """The token that ends an assistant turn (ChatML models: <|im_end|>)."""
    return '<|im_end|>' if '<|im_end|>' in tokenizer.get_vocab() else tokenizer.eos_token


def program_system(instruction: str, classes: tuple[str, ...], grammar: bool) -> str:
    """The system message of a program-writing prompt: the instruction and, for a VLM
    that was not trained on programs, the grammar, the classes and a few examples."""
    if not grammar:
        return instruction
    from geode_ros.query.program import KINDS, WRITABLE_KINDS

    kinds = '\n'.join(f'- {k}: {KINDS[k].help}' for k in WRITABLE_KINDS)
    return (f'{instruction} Answer with one program and nothing else, written '
            'kind(object, object; unit=u). Kinds:\n' + kinds +
            '\nObjects must be one of: ' + ', '.join(classes) + '. Write robot as the first '
            'object of a distance from the robot. Units: m, cm, mm, ft, in; m2, ft2 for areas.'
            '\nExamples: "how far is the couch from the telly in feet" -> '
            'distance(sofa, tv; unit=ft); "any cups here?" -> exists(mug); "how big is this '
            'place" -> room_area(); "what is the closest seat to me" -> nearest(chair); '
            '"what is in here" -> list(); a request that is no question about the room -> '
            'none()')


def build_prompt(tokenizer, template_image: str, expand_image, question: str,
                 image_token_counts: list[int], num_spatio: int, system: str | None = None
                 ) -> str:
    """Prompt text: system, user turn = images + K <spatio> + question, assistant opening."""
    content: list[dict] = [{'type': 'image'} for _ in image_token_counts]
    slots = SPATIO * num_spatio + '\n' if num_spatio else ''
    content.append({'type': 'text', 'text': slots + question.strip()})
    messages = [{'role': 'user', 'content': content}]
    if system:
        messages.insert(0, {'role': 'system', 'content': system})
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    parts = text.split(template_image)
    if len(parts) != len(image_token_counts) + 1:
        raise GeodeError(f'chat template produced {len(parts) - 1} image marks for '
                         f'{len(image_token_counts)} images')
    out = parts[0]
    for n, rest in zip(image_token_counts, parts[1:]):
        out += expand_image(n) + rest
    return out
