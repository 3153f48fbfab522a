"""Tiny random VLMs of real architectures, built offline (tests and the shipped demo).

``build_tiny_vlm('qwen2_vl' | 'qwen2_5_vl' | 'internvl', out_dir)`` writes a normal
Hugging Face directory (config, random weights, a byte-level BPE tokenizer trained on a
spatial-QA corpus, the architecture's own image processor and processor, a ChatML chat
template) that ``AutoModelForImageTextToText`` / ``AutoProcessor`` load like real weights.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path

from geode_ros.config import check_choice
from geode_ros.errors import GeodeError

ARCHITECTURES = ('qwen2_vl', 'qwen2_5_vl', 'internvl')

_QWEN_SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|vision_start|>',
                  '<|vision_end|>', '<|image_pad|>', '<|video_pad|>']
_INTERNVL_SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<img>', '</img>',
                      '<IMG_CONTEXT>', '<video>']

_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}'
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}IMAGE{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    '{% endfor %}{% endif %}<|im_end|>\n{% endfor %}'
    '{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}'
)

_OBJECTS = ['chair', 'table', 'sofa', 'lamp', 'bed', 'door', 'window', 'tv', 'mug', 'plant',
            'desk', 'shelf', 'cabinet', 'sink', 'toilet', 'fridge', 'stove', 'pillow', 'box',
            'monitor', 'keyboard', 'bottle', 'trash can', 'fire extinguisher', 'backpack']


def spatial_corpus(seed: int = 0, n: int = 3000) -> list[str]:
    """A built-in corpus of VSI-Bench-style questions, answers and rationales."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        a, b, c = rng.sample(_OBJECTS, 3)
        x = f'{rng.uniform(0, 9):.2f}'
        lines += [
            f'How many {a}(s) are in this room?',
            f'Measuring from the closest point of each object, what is the direct distance '
            f'between the {a} and the {b} (in meters)?',
            f'What is the length of the longest dimension (length, width, or height) of the '
            f'{a}, measured in centimeters?',
            'What is the size of this room (in square meters)? If multiple rooms are shown, '
            'estimate the size of the combined space.',
            f'Measuring from the closest point of each object, which of these objects ({a}, '
            f'{b}, {c}) is the closest to the {a}?',
            f'If I am standing by the {a} and facing the {b}, is the {c} to my left, right, '
            f'or back? An object is to my back if I would have to turn at least 135 degrees.',
            f'What will be the first-time appearance order of the following categories in the '
            f'video: {a}, {b}, {c}? Options: A. {a}, {b}, {c} B. {b}, {a}, {c}',
            f'Where is the {a}? Answer with a 3D box.',
            f'The {a} spans x {x}..{float(x) + 0.8:.2f}, y 1.10..2.00, z 0.00..0.85. '
            f'Their distance is sqrt(1.50^2 + 0.10^2) = {x} m. The answer is B. left right back',
        ]
    return lines


def build_tokenizer(arch: str, corpus: Iterable[str] | None = None, vocab_size: int = 1200):
    """Train a byte-level BPE (digits split one by one, as in Qwen) and wrap it for HF."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = _INTERNVL_SPECIALS if arch == 'internvl' else _QWEN_SPECIALS
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(list(corpus) if corpus is not None else spatial_corpus(), trainer)
    extra = ({'start_image_token': '<img>', 'end_image_token': '</img>',
              'context_image_token': '<IMG_CONTEXT>', 'video_token': '<video>'}
             if arch == 'internvl' else None)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token='<|im_end|>', pad_token='<|endoftext|>',
        extra_special_tokens=extra, padding_side='right',
    )
    placeholder = '<IMG_CONTEXT>\n' if arch == 'internvl' else (
        '<|vision_start|><|image_pad|><|vision_end|>')
    hf.chat_template = _CHAT_TEMPLATE.replace('IMAGE', placeholder)
    return hf


def _text_config(hidden: int, layers: int, tokenizer, heads: int, qwen_vl: bool) -> dict:
    head_dim = hidden // heads
    rope: dict = {'rope_type': 'default', 'rope_theta': 1000000.0}
    if qwen_vl:  # M-RoPE splits the rotary half-dim into (t, h, w) sections
        half = head_dim // 2
        rope['mrope_section'] = [half - 2 * (3 * half // 8), 3 * half // 8, 3 * half // 8]
    return {
        'vocab_size': len(tokenizer), 'hidden_size': hidden, 'intermediate_size': 2 * hidden,
        'num_hidden_layers': layers, 'num_attention_heads': heads,
        'num_key_value_heads': max(1, heads // 2), 'max_position_embeddings': 4096,
        'rope_parameters': rope, 'rms_norm_eps': 1e-6, 'tie_word_embeddings': False,
        'bos_token_id': None, 'eos_token_id': tokenizer.eos_token_id,
        'pad_token_id': tokenizer.pad_token_id,
    }


def _image_processor(arch: str, image_size: int):
    """The architecture's own image processor (PIL backend: no torchvision needed)."""
    if arch == 'internvl':
        from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import (
            GotOcr2ImageProcessorPil,
        )
        return GotOcr2ImageProcessorPil(size={'height': image_size, 'width': image_size},
                                        crop_to_patches=False)
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )
    pixels = image_size * image_size
    return Qwen2VLImageProcessorPil(size={'shortest_edge': pixels, 'longest_edge': pixels})


_PROCESSOR_CLASS = {'qwen2_vl': 'Qwen2VLProcessor', 'qwen2_5_vl': 'Qwen2_5_VLProcessor',
                    'internvl': 'InternVLProcessor'}


def tiny_vlm_config(arch: str, tokenizer, hidden: int = 256, layers: int = 4,
                    vision_depth: int = 4, image_size: int = 112):
    """A tiny HF config of architecture ``arch`` matching ``tokenizer``."""
    heads = max(2, hidden // 64)
    vis = 64
    if arch == 'qwen2_vl':
        from transformers import Qwen2VLConfig
        return Qwen2VLConfig(
            text_config=_text_config(hidden, layers, tokenizer, heads, True),
            vision_config={'depth': vision_depth, 'embed_dim': vis, 'hidden_size': hidden,
                           'num_heads': 4, 'mlp_ratio': 2},
            image_token_id=tokenizer.convert_tokens_to_ids('<|image_pad|>'),
            video_token_id=tokenizer.convert_tokens_to_ids('<|video_pad|>'),
            vision_start_token_id=tokenizer.convert_tokens_to_ids('<|vision_start|>'),
            vision_end_token_id=tokenizer.convert_tokens_to_ids('<|vision_end|>'),
        )
    if arch == 'qwen2_5_vl':
        from transformers import Qwen2_5_VLConfig
        return Qwen2_5_VLConfig(
            text_config=_text_config(hidden, layers, tokenizer, heads, True),
            vision_config={'depth': vision_depth, 'hidden_size': vis, 'intermediate_size': 2 * vis,
                           'out_hidden_size': hidden, 'num_heads': 4, 'window_size': 56,
                           'fullatt_block_indexes': [vision_depth - 1]},
            image_token_id=tokenizer.convert_tokens_to_ids('<|image_pad|>'),
            video_token_id=tokenizer.convert_tokens_to_ids('<|video_pad|>'),
            vision_start_token_id=tokenizer.convert_tokens_to_ids('<|vision_start|>'),
            vision_end_token_id=tokenizer.convert_tokens_to_ids('<|vision_end|>'),
        )
    if arch == 'internvl':
        from transformers import InternVLConfig
        text = _text_config(hidden, layers, tokenizer, heads, False)
        text['model_type'] = 'qwen2'
        return InternVLConfig(
            text_config=text,
            vision_config={'hidden_size': vis, 'num_hidden_layers': vision_depth,
                           'num_attention_heads': 4, 'intermediate_size': 2 * vis,
                           'image_size': [image_size, image_size], 'patch_size': [14, 14]},
            image_token_id=tokenizer.convert_tokens_to_ids('<IMG_CONTEXT>'),
            image_seq_length=(image_size // 28) ** 2, tie_word_embeddings=False,
        )
    check_choice('tiny architecture', arch, ARCHITECTURES)
    raise AssertionError(f'ARCHITECTURES lists {arch!r} but no config is written for it')


def build_tiny_vlm(arch: str, out_dir: str | Path, hidden: int = 256, layers: int = 4,
                   vision_depth: int = 4, image_size: int = 112,
                   corpus: Iterable[str] | None = None, seed: int = 0) -> Path:
    """Build and save a tiny random VLM of a real architecture; return its directory."""
    import torch
    from transformers import AutoModelForImageTextToText

    check_choice('tiny architecture', arch, ARCHITECTURES)
    if image_size % 28:
        raise GeodeError(f'image_size must be a multiple of 28, got {image_size}')
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(arch, corpus)
    config = tiny_vlm_config(arch, tokenizer, hidden, layers, vision_depth, image_size)
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    _image_processor(arch, image_size).save_pretrained(out)
    tokenizer.save_pretrained(out)
    # What ProcessorMixin writes; AutoProcessor (which in transformers 5 also wants a
    # video processor, i.e. torchvision) assembles the processor from these files.
    proc = {'processor_class': _PROCESSOR_CLASS[arch]}
    if arch == 'internvl':
        proc['image_seq_length'] = (image_size // 28) ** 2
    (out / 'processor_config.json').write_text(json.dumps(proc, indent=2) + '\n')
    (out / 'chat_template.jinja').write_text(tokenizer.chat_template)
    return out
