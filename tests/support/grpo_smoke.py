"""Two GRPO optimisation steps with TRL on CPU, rewards from real dsgym sandboxes.

Why it is built this way: no hub downloads are possible here, so the tokenizer is a
byte-level BPE trained on the prompts and completions it will see (with the
``tokenizers`` library) and the model is a tiny Qwen2 built from a config with
random weights.  For the tools interface the tokenizer gets TRL's bundled Qwen2.5
chat template (so TRL knows how to parse its tool calls); for the text interface
a plain ChatML template TRL does not recognise, the case ``TextRollout`` is for.

A random model never emits a well-formed action, so every rollout would score
0, GRPO's advantages would all be 0 and no weight would move.  So the model is first
taught, with a few hundred plain next-token steps, the shape of three replies: run
code, submit the right answer, submit a wrong one.  Sampling from it then
yields a real mix of rollouts that the sandbox runs and the task's metric grades
(1.0 or 0.0): a group with different rewards, hence a gradient.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dsgym.rl.trl import DSGymEnvironments, TextRollout, train_dataset, trainer_kwargs

ENV_ID = "dsgym-tasks-lite"
TASK = "sunspots-ljung-box-q10"
RIGHT, WRONG = "601.64", "501.64"
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TOOL_MARKS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]
CODE = "import pandas as pd\nprint(pd.read_csv('/data/sunspots.csv').shape)"
# ChatML without tools: renders any chat, but TRL has no parser for it
PLAIN_CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
                "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def tool_call(name: str, **arguments: str) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call><|im_end|>"


REPLIES = {
    "tools": [tool_call("submit_answer", answer=RIGHT), tool_call("submit_answer", answer=WRONG),
              tool_call("run_python", code=CODE)],
    "text": [f"<answer>{RIGHT}</answer>", f"<answer>{WRONG}</answer>", f"<python>\n{CODE}\n</python>"],
}


def chat_template(interface: str) -> str:
    import trl

    if interface == "text":
        return PLAIN_CHATML
    return (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text()


def build_tokenizer(texts: list[str], template: str, vocab_size: int = 600):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(texts, trainer=trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    backend.add_tokens([AddedToken(mark, special=False, normalized=False) for mark in TOOL_MARKS])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        additional_special_tokens=["<|im_start|>"], padding_side="left",
                                        model_max_length=4096)
    tokenizer.chat_template = template
    return tokenizer


def build_model(tokenizer, seed: int = 0):
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         tie_word_embeddings=True)
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32)


def warm_up(model, tokenizer, prompt_text: str, replies: list[str], steps: int = 200) -> None:
    """Teach the random model the three replies after the real prompt (loss on the replies only)."""
    import torch

    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    targets = [tokenizer(reply, add_special_tokens=False)["input_ids"] for reply in replies]
    width = max(map(len, targets))
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([prompt_ids + ids + [pad] * (width - len(ids)) for ids in targets])
    labels = torch.tensor([[-100] * len(prompt_ids) + ids + [-100] * (width - len(ids)) for ids in targets])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        model(input_ids=input_ids, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def grpo_config(work_dir: str | Path, num_generations: int):
    from trl import GRPOConfig

    return GRPOConfig(
        output_dir=str(work_dir), max_steps=2, per_device_train_batch_size=num_generations,
        num_generations=num_generations, max_completion_length=160, temperature=1.0,
        learning_rate=1e-3, lr_scheduler_type="constant", beta=0.0, logging_steps=1, save_strategy="no",
        report_to=[], use_cpu=True, bf16=False, fp16=False, activation_checkpointing=False,
        dataloader_num_workers=0, dataloader_pin_memory=False, disable_tqdm=True, seed=0, data_seed=0,
        max_tool_calling_iterations=2,
    )


def task_prompt(environments: DSGymEnvironments, interface: str) -> str:
    """The task statement the rollouts will see (its episode is not part of training)."""
    session = environments.session(interface=interface)
    statement = session.start(TASK)
    session.end()
    return statement


def warm_model(environments: DSGymEnvironments, interface: str):
    """A tiny model and local tokenizer for ``interface``, warmed up on ``TASK``'s real prompt."""
    prompt = [{"role": "user", "content": task_prompt(environments, interface)}]
    probe = environments() if interface == "tools" else None  # only its methods: they render the tool schemas
    rendering = {"add_generation_prompt": True, "tokenize": False,
                 "tools": [probe.run_python, probe.submit_answer] if probe else None}
    replies = REPLIES[interface]
    # two passes: any tokenizer renders the template; the final one is trained on what it will see
    draft = build_tokenizer([prompt[0]["content"], *replies], chat_template(interface))
    tokenizer = build_tokenizer([draft.apply_chat_template(prompt, **rendering) + reply for reply in replies],
                                chat_template(interface))
    model = build_model(tokenizer)
    warm_up(model, tokenizer, tokenizer.apply_chat_template(prompt, **rendering), replies)
    return model, tokenizer


def recording(rollout: TextRollout, outputs: list[dict[str, Any]]):
    """``rollout`` that also keeps what it returned to the trainer, for the test to inspect."""
    def rollout_func(prompts, trainer):
        outputs.append(rollout(prompts, trainer))
        return outputs[-1]
    return rollout_func


def train_two_steps(work_dir: str | Path, interface: str = "tools", num_generations: int = 6) -> dict[str, Any]:
    """Warm up, then two GRPO steps on one task of ``ENV_ID``; returns what the test checks."""
    import torch
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOTrainer

    dataset = train_dataset(ENV_ID, task_ids=[TASK], repeat=num_generations * 2)
    rollouts: list[dict[str, Any]] = []
    with DSGymEnvironments(ENV_ID, pool_size=num_generations, max_turns=3) as environments:
        model, tokenizer = warm_model(environments, interface)
        before = {name: param.detach().clone() for name, param in model.named_parameters()}

        extra = trainer_kwargs(environments, tokenizer, max_turns=2, turn_tokens=64)
        if isinstance(extra.get("rollout_func"), TextRollout):
            extra["rollout_func"] = recording(extra["rollout_func"], rollouts)
        trainer = GRPOTrainer(model=model, args=grpo_config(work_dir, num_generations), train_dataset=dataset,
                              processing_class=tokenizer, **extra)
        trainer.remove_callback(PrinterCallback)
        trainer.train()
        episodes = list(environments.episodes)
        held = environments.held_sandboxes()

    after = dict(trainer.model.named_parameters())
    return {
        "interface": "text" if "rollout_func" in extra else "tools",
        "steps": trainer.state.global_step,
        "logs": [entry for entry in trainer.state.log_history if "loss" in entry],
        "episodes": episodes,
        "rollouts": rollouts,
        "tokenizer": tokenizer,
        "sandboxes_held_after_rollouts": held,
        "weights_changed": any(not torch.equal(before[n], after[n].detach().cpu()) for n in before),
    }
