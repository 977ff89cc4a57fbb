"""Two-step supervised finetune smoke run with TRL's ``SFTTrainer`` on CPU.

Why everything is built here: neither CI nor the developers' machines can download model weights or
tokenizers from a hub, so this module trains a small byte-level BPE tokenizer on the dataset's own text
(with the `tokenizers` library), gives it a ChatML-like Jinja chat template, and builds a tiny randomly
initialised Llama from a config.  What it checks is the plumbing -- that an SFT dataset of chat
``messages`` (as saved by ``datasets.save_to_disk``) goes through TRL's preprocessing, assistant-only
loss masking and two optimiser steps -- not that the model learns anything.

Nothing here touches the network: the trainer gets a model object and a tokenizer object (never a hub id),
``report_to=[]`` and ``save_strategy="no"``; the dataset is loaded in memory, so TRL's ``map`` calls
write no cache files beside it, and the trainer writes (if anything) only under ``work_dir``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator

BOS = "<|endoftext|>"
EOS = "<|im_end|>"  # ends every turn, so an assistant turn is trained to stop on it
PAD = "<|pad|>"
IM_START = "<|im_start|>"
SPECIAL_TOKENS = [PAD, BOS, IM_START, EOS]
ROLES = ("system", "user", "assistant", "tool")

# ChatML-like.  Every role (system, user, assistant, tool) renders the same way, as
# "<|im_start|>{role}\n{content}<|im_end|>\n"; the assistant's content and its <|im_end|> sit inside
# {% generation %} ... {% endgeneration %}, which is what `return_assistant_tokens_mask` (and so TRL's
# `assistant_only_loss`) reads.  The trailing "\n" after <|im_end|> is outside the mask, so the last
# masked token is the end-of-turn token, which TRL checks.  `add_generation_prompt` opens an assistant turn.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- set content = message['content'] if message['content'] is string else '' -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- generation -%}"
    "{{- content + '<|im_end|>' -}}"
    "{%- endgeneration -%}"
    "{{- '\\n' -}}"
    "{%- else -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + content + '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


def _texts(dataset) -> Iterator[str]:
    """The dataset's text, plus the role names and template pieces, for training the tokenizer."""
    yield " ".join(ROLES)
    for messages in dataset["messages"]:
        for message in messages:
            yield message["role"]
            if isinstance(message.get("content"), str):
                yield message["content"]


def build_tokenizer(dataset, vocab_size: int = 512):
    """A byte-level BPE tokenizer trained on ``dataset``'s messages, wrapped for transformers.

    Byte-level means any text encodes (no unknown token), so the dataset may hold characters that were
    rare or absent when the tokenizer was trained.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_texts(dataset), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[IM_START],
        padding_side="right",
        model_max_length=4096,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(tokenizer, max_positions: int, seed: int = 0):
    """A 2-layer Llama with hidden size 32, randomly initialised from a config (no weights loaded)."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32)


def train_two_steps(
    dataset_dir: str | Path,
    work_dir: str | Path,
    *,
    assistant_only_loss: bool = True,
    max_length: int = 512,
) -> dict[str, Any]:
    """Run two SFT optimiser steps over the ``messages`` dataset saved at ``dataset_dir``.

    Columns other than ``messages`` are dropped first (TRL would read a ``tools``, ``text``, ``prompt``
    or ``completion`` column as part of the example).  Returns ``steps`` (the trainer's global step),
    ``losses`` (the logged training losses, one per step), ``weights_changed`` (whether any parameter
    differs from its value before training), ``examples`` (rows in the dataset), ``vocab_size`` and
    ``trained_tokens`` (tokens counted in the loss, over the whole prepared dataset).
    """
    import datasets
    import torch
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    # In memory, so that TRL's `map` calls leave no cache files in the dataset's directory.
    dataset = datasets.load_from_disk(str(dataset_dir), keep_in_memory=True)
    if "messages" not in dataset.column_names:
        raise ValueError(f"{dataset_dir}: no 'messages' column (columns: {dataset.column_names})")
    dataset = dataset.select_columns(["messages"])

    tokenizer = build_tokenizer(dataset)
    model = build_model(tokenizer, max_length)
    before = {name: param.detach().clone() for name, param in model.named_parameters()}

    config = SFTConfig(
        output_dir=str(work_dir),
        max_steps=2,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=1,
        learning_rate=1e-2,
        lr_scheduler_type="constant",
        warmup_steps=0,
        max_length=max_length,
        assistant_only_loss=assistant_only_loss,
        packing=False,
        logging_steps=1,
        logging_strategy="steps",
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        use_cpu=True,
        bf16=False,
        fp16=False,
        # TRL defaults `gradient_checkpointing` to True; transformers 5 calls that name deprecated and reads
        # `activation_checkpointing` first, so setting the new name turns it off without a FutureWarning.
        activation_checkpointing=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
        disable_tqdm=True,
        seed=0,
        data_seed=0,
    )
    bars_were_disabled = datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()  # TRL's map/filter calls would draw five of them
    try:
        trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
        trainer.remove_callback(PrinterCallback)  # with disable_tqdm it would print every log dict
        trainer.train()
    finally:
        if not bars_were_disabled:
            datasets.utils.enable_progress_bars()

    losses = [float(entry["loss"]) for entry in trainer.state.log_history if "loss" in entry]
    after = dict(trainer.model.named_parameters())
    weights_changed = any(not torch.equal(before[name], after[name].detach().cpu()) for name in before)
    trained_tokens = sum(
        sum(1 for label in labels if label != -100) for labels in trainer.train_dataset["labels"]
    )
    return {
        "steps": trainer.state.global_step,
        "losses": losses,
        "losses_finite": bool(losses) and all(math.isfinite(loss) for loss in losses),
        "weights_changed": weights_changed,
        "examples": len(dataset),
        "vocab_size": len(tokenizer),
        "trained_tokens": trained_tokens,
    }
