"""Dataclass configs of the GEODE model (the one source of its defaults).

The paper's hyperparameters are not published; the defaults here are ours, sized so
that the DRM and DRH stay small (a few M parameters) beside a 1.5B VLM:
- DRM: 2048 points sampled from the fused cloud, 256 FPS groups of 16 neighbours,
  PointNet width 256, 2 point-transformer layers, 2 fusion (cross-attention) layers,
  2 read-out layers, 8 heads, K = 8 rationale queries, dropout 0.1.
- Ablation switches (the paper's table, at our scale): ``use_drm=False`` drops the K
  ``<spatio>`` slots (the DRM is still built, so checkpoints keep one layout, but never
  run; there is no stage 1); ``numeric_output='digits'`` replaces the DRH by spelling
  numbers and boxes as text, rendered and parsed by the DRH path's own functions.
- DRH: one 2-layer MLP (hidden 512) per output kind; scalars are regressed as
  ``(log(x) - mean) / std`` per question type, boxes as (cx, cy, cz relative to the
  scene centre, log w, log l, log h, sin yaw, cos yaw).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The question types live with the QA schema; re-exported here for the model code.
from geode_ros.data.qa import (  # noqa: F401
    BOX_TYPES,
    CHOICE_TYPES,
    NUMERIC_TYPES,
    QUESTION_TYPES,
)
from geode_ros.scene.proposals import ProposalConfig

# How numeric answers and boxes leave the model: the DRH (GEODE) or spelled digits (ablation).
NUMERIC_OUTPUTS: tuple[str, ...] = ('drh', 'digits')
VALUE_DECODES: tuple[str, ...] = ('mra', 'mean')
# How multiple-choice answers leave the model: the option's text (scored) or a letter.
CHOICE_ANSWERS: tuple[str, ...] = ('option_text', 'letter')
QUANT_MODES: tuple[str | None, ...] = (None, 'int8', 'int4')
QUANT_BACKENDS: tuple[str, ...] = ('auto', 'torchao', 'portable')
# A spelled box takes 53-59 tokens with the tiny tokenizer: the digits mode decodes at least this.
DIGITS_MIN_NEW_TOKENS = 80


@dataclass
class DRMConfig:
    """Decoupled Rationale Module: point encoder + 2D/3D fusion + K rationale queries."""

    point_encoder: str = field(default='pointnet_tf', metadata={'help': 'point encoder name'})
    num_points: int = field(default=2048, metadata={'help': 'points sampled from the cloud'})
    num_groups: int = field(default=256, metadata={'help': 'FPS centres (point tokens)'})
    k_neighbors: int = field(default=16, metadata={'help': 'kNN group size'})
    width: int = field(default=256, metadata={'help': 'DRM token width'})
    point_layers: int = field(default=2, metadata={'help': 'transformer layers on point tokens'})
    fusion_layers: int = field(default=2, metadata={'help': 'point<-patch cross-attention layers'})
    readout_layers: int = field(default=2, metadata={'help': 'query read-out layers'})
    heads: int = field(default=8, metadata={'help': 'attention heads'})
    num_rationale_queries: int = field(default=8, metadata={'help': 'K <spatio> tokens'})
    question_conditioned: bool = field(default=True, metadata={
        'help': 'the rationale queries read the question too (InstructBLIP-style), so the K '
                'tokens carry what this question needs rather than a fixed scene summary'})
    scene_extent_token: bool = field(default=True, metadata={
        'help': "one extra token encodes the cloud's extent along each axis (robust "
                'percentiles), a global quantity that attention over local tokens finds '
                'hard to compute'})
    extent_percentile: float = field(default=1.0, metadata={
        'help': 'the extent runs from this percentile of the points to 100 minus it'})
    pe_frequencies: int = field(default=8, metadata={'help': 'Fourier frequencies per axis'})
    pe_max_wavelength: float = field(default=16.0, metadata={'help': 'longest wavelength (m)'})
    max_patches: int = field(default=512, metadata={'help': 'cap on keyframe patch tokens'})
    dropout: float = field(default=0.1, metadata={'help': 'dropout in DRM layers'})


@dataclass
class ObjectConfig:
    """Object tokens of the DRM: class-agnostic proposals of the fused cloud, each encoded
    (geometry, colour, member points, keyframe patches inside it), classified and boxed."""

    enabled: bool = field(default=True, metadata={
        'help': 'build object tokens from cloud proposals (off: the DRM sees sampled points '
                'only, as before)'})
    classes: tuple[str, ...] = field(default=(), metadata={
        'help': "the object vocabulary (set from the training scenes' labels)"})
    proposals: ProposalConfig = field(default_factory=ProposalConfig)
    layers: int = field(default=2, metadata={'help': 'self-attention layers over objects'})
    proposal_refresh_s: float = field(default=0.0, metadata={
        'help': 'reuse the proposals of an updated cloud for up to this many seconds (a live '
                'node sets it: proposals of a large cloud take 0.1-0.3 s); 0 = recompute '
                'whenever the cloud changed'})
    score_threshold: float = field(default=0.5, metadata={
        'help': 'a merged detection needs this class probability (after the temperature); '
                'chosen on validation data by calibration (geode-train with eval_data, or '
                'geode-bench proposals --calibrate)'})
    temperature: float = field(default=1.0, metadata={
        'help': 'class logits are divided by this before the softmax, fitted on validation '
                'proposals so that a detection score is the probability it is right'})
    score_calibration: tuple[float, ...] = field(default=(1.0, 0.0), metadata={
        'help': 'a, b: a detection scores sigmoid(a logit(p) + b), p its (tempered) class '
                'probability; fitted on validation detections so that a score is how often '
                'such a detection is right (the right class at IoU >= 0.25); (1, 0) = p'})
    confident_score: float = field(default=0.7, metadata={
        'help': 'detections scoring below this are low-confidence (answers built on them '
                'say so); chosen on validation as the score above which detections reach '
                'the calibration precision for confident ones'})
    merge_iou: float = field(default=0.1, metadata={
        'help': 'same-class detections whose predicted boxes overlap by more than this IoU '
                '(or touch, see merge_gap_m) are one object'})
    merge_gap_m: float = field(default=0.05, metadata={
        'help': 'same-class detections whose predicted boxes are closer than this merge'})
    class_loss_weight: float = field(default=1.0, metadata={'help': 'proposal class CE'})
    box_loss_weight: float = field(default=1.0, metadata={'help': 'proposal box L1'})
    loss_weight: float = field(default=1.0, metadata={
        'help': 'weight of the object loss beside the stage-1/2 losses'})
    estimate_missing: bool = field(default=True, metadata={
        'help': "a VSI-Bench-style question whose object was not detected (a distance, a "
                "size, a choice; never a count, where or exists) gets the LLM/DRH's estimate "
                "from the question alone, marked 'estimated'; off: 'not found'"})


@dataclass
class ProgramConfig:
    """The VLM as program writer: questions the rules cannot read become query programs
    (``geode_ros.query``), by constrained decoding over the program grammar."""

    enabled: bool = field(default=True, metadata={
        'help': 'ask the VLM for a program when the rules cannot parse a question'})
    grammar_in_prompt: bool = field(default=True, metadata={
        'help': "describe the grammar, the model's classes and examples in the prompt (an "
                'instruction-tuned VLM writes programs with no training this way); a model '
                'trained on programs (the tiny one) needs only the short instruction'})
    instruction: str = field(default='Write the query program of the question.', metadata={
        'help': 'the system message of a program-writing prompt'})
    max_new_tokens: int = field(default=40, metadata={'help': 'decode budget of a program'})
    candidates: int = field(default=4096, metadata={
        'help': 'most tokens tried (most likely first) in one decoding step for one the '
                'grammar allows'})
    train_share: float = field(default=0.25, metadata={
        'help': 'share of each training batch that teaches program writing (stage 0 and 2)'})


@dataclass
class DRHConfig:
    """Direct Regression Head: MLPs that turn <reg>/<box> hidden states into values."""

    hidden: int = field(default=512, metadata={'help': 'MLP hidden width'})
    value_types: tuple[str, ...] = field(
        default=NUMERIC_TYPES, metadata={'help': 'question types regressed at <reg>'}
    )
    value_log_mean: tuple[float, ...] = field(
        default=(1.0, 0.4, 4.4, 3.0), metadata={'help': 'mean of log(value) per value type'}
    )
    value_log_std: tuple[float, ...] = field(
        default=(0.8, 0.8, 0.9, 0.6), metadata={'help': 'std of log(value) per value type'}
    )
    value_bins: int = field(default=64, metadata={
        'help': 'histogram bins over the normalised value, trained with cross-entropy beside '
                'the L2 loss (0 = L2 regression only, as the paper)'})
    value_bin_range: float = field(default=4.0, metadata={
        'help': 'the bins span +-this many standard deviations of log(value)'})
    value_hist_weight: float = field(default=0.5, metadata={
        'help': 'weight of the histogram cross-entropy'})
    value_decode: str = field(default='mra', metadata={
        'help': 'mra: the value with the highest expected VSI-Bench MRA under the histogram; '
                'mean: the L2-regressed value', 'choices': VALUE_DECODES})
    box_center_scale: float = field(default=2.0, metadata={'help': 'box centre scale (m)'})
    box_log_size_mean: float = field(default=-0.7, metadata={'help': 'mean log box extent'})
    box_log_size_std: float = field(default=0.8, metadata={'help': 'std of log box extent'})
    reg_loss_weight: float = field(default=1.0, metadata={'help': 'weight of <reg> L2 loss'})
    box_loss_weight: float = field(default=1.0, metadata={'help': 'weight of <box> L2 loss'})
    box_iou_weight: float = field(default=0.5, metadata={'help': 'weight of the 1 - IoU term'})


@dataclass
class QuantConfig:
    """Weight-only quantisation of the LLM linears (the DRM, DRH and vision stay float)."""

    mode: str | None = field(default=None, metadata={'help': 'None, int8 or int4',
                                                      'choices': QUANT_MODES})
    group_size: int = field(default=32, metadata={'help': 'int4 group size (input dim)'})
    backend: str = field(default='auto', metadata={'help': 'auto, torchao or portable',
                                                   'choices': QUANT_BACKENDS})


@dataclass
class LoraConfig:
    """LoRA settings for stage 2 (used when ``enabled``; else the full LLM trains)."""

    enabled: bool = field(default=False, metadata={'help': 'train LoRA adapters, not the LLM'})
    rank: int = field(default=16, metadata={'help': 'LoRA rank'})
    alpha: int = field(default=32, metadata={'help': 'LoRA alpha'})
    dropout: float = field(default=0.05, metadata={'help': 'LoRA dropout'})
    targets: tuple[str, ...] = field(
        default=('q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'),
        metadata={'help': 'LLM linear names that get adapters'},
    )


@dataclass
class GeodeConfig:
    """The whole GEODE model: which VLM, the two modules, runtime settings."""

    vlm: str = field(default='', metadata={'help': 'HF VLM name or local path'})
    drm: DRMConfig = field(default_factory=DRMConfig)
    drh: DRHConfig = field(default_factory=DRHConfig)
    objects: ObjectConfig = field(default_factory=ObjectConfig)
    programs: ProgramConfig = field(default_factory=ProgramConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    quantization: QuantConfig = field(default_factory=QuantConfig)
    dtype: str = field(default='float32', metadata={'help': 'float32, float16 or bfloat16'})
    device: str = field(default='cpu', metadata={'help': 'torch device'})
    max_new_tokens: int = field(default=32, metadata={'help': 'decode budget per answer'})
    prompt_images: int = field(
        default=2, metadata={'help': 'keyframes shown to the LLM as image tokens (0 = DRM only)'}
    )
    max_keyframes: int = field(default=8, metadata={'help': 'keyframes read by the DRM'})
    system_prompt: str = field(
        default='You answer questions about a 3D scene.', metadata={'help': 'system message'}
    )
    use_drm: bool = field(default=True, metadata={
        'help': 'feed the K DRM <spatio> tokens to the LLM (false: ablation without DRM, '
                'no <spatio> slots, no stage 1)'})
    numeric_output: str = field(default='drh', metadata={
        'help': 'drh: numbers/boxes regressed at <reg>/<box> by the DRH; digits: spelled as '
                f'answer text and parsed back (ablation; decode budget >= '
                f'{DIGITS_MIN_NEW_TOKENS} tokens)', 'choices': NUMERIC_OUTPUTS})
    choice_answer: str = field(default='option_text', metadata={
        'help': "option_text: trained to say the chosen option's text; answered by scoring "
                'the likelihood of each listed option; letter: trained to say the letter, '
                'answered by greedy decoding', 'choices': CHOICE_ANSWERS})
