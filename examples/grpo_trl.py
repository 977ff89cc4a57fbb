"""Train a model with TRL's GRPO on a dsgym suite; every reward is the task's metric on a sandboxed episode.

    python examples/grpo_trl.py --model Qwen/Qwen3-0.6B --suite dsgym-tasks-lite --num-generations 8
    python examples/grpo_trl.py --model Qwen/Qwen3-0.6B --use-vllm --vllm-mode colocate

Needs ``pip install 'dsgym[trl]'``, the sandbox images (``dsgym sandbox build``) and,
for a real model, a GPU.  Models whose chat template TRL can parse tool calls
from (Qwen, Llama, ...) call ``run_python``/``submit_answer`` as tools; any other
model plays dsgym's text protocol through ``TextRollout`` (``--interface`` forces
one), which generates with transformers, so not with ``--use-vllm``.
"""

from __future__ import annotations

import argparse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", default="Qwen/Qwen3-0.6B", help="model id or local path")
    parser.add_argument("--suite", default="dsgym-tasks-lite", help="suite, or <suite>/<task> for one task")
    parser.add_argument("--tasks", nargs="*", help="train on these task ids of the suite only")
    parser.add_argument("--repeat", type=int, default=1, help="rows per task in the dataset (per epoch)")
    parser.add_argument("--system-prompt", help="system message before each task")
    parser.add_argument("--interface", choices=["auto", "tools", "text"], default="auto",
                        help="auto: tools when TRL can parse the model's tool calls, else the text protocol")
    parser.add_argument("--output-dir", default="grpo-dsgym")
    parser.add_argument("--num-generations", type=int, default=8, help="rollouts per task in a GRPO group")
    parser.add_argument("--per-device-batch-size", type=int, default=8, help="rollouts per device per step")
    parser.add_argument("--gradient-accumulation-steps", type=int, default=1)
    parser.add_argument("--max-completion-length", type=int, default=4096,
                        help="tokens per rollout, tool outputs included")
    parser.add_argument("--max-tool-calls", type=int, default=10, help="tool-calling iterations per rollout")
    parser.add_argument("--learning-rate", type=float, default=1e-6)
    parser.add_argument("--beta", type=float, default=0.0, help="KL coefficient (0: no reference model)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--max-steps", type=int, default=-1, help="overrides --epochs when > 0")
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, help="default: TRL's choice for the GPU")
    parser.add_argument("--cpu", action="store_true", help="train on CPU (tiny models, smoke runs)")
    parser.add_argument("--report-to", default="none")
    parser.add_argument("--seed", type=int, default=0)
    dsgym_options = parser.add_argument_group("dsgym episodes")
    dsgym_options.add_argument("--pool-size", type=int,
                               help="warm sandboxes; default: the rollouts generated at once per process")
    dsgym_options.add_argument("--format-penalty", type=float, default=0.0,
                               help="subtracted from the reward when a rollout never submits an answer")
    dsgym_options.add_argument("--max-turns", type=int, default=10, help="actions per episode")
    dsgym_options.add_argument("--cell-timeout", type=float, default=60.0, help="seconds per code cell")
    dsgym_options.add_argument("--turn-tokens", type=int, default=1024, help="tokens per reply (text protocol)")
    vllm = parser.add_argument_group("vLLM generation (tools interface)")
    vllm.add_argument("--use-vllm", action="store_true")
    vllm.add_argument("--vllm-mode", choices=["colocate", "server"], default="colocate")
    vllm.add_argument("--vllm-server-base-url", help="e.g. http://localhost:8000 for `trl vllm-serve`")
    vllm.add_argument("--vllm-gpu-memory-utilization", type=float, default=0.3)
    return parser.parse_args(argv)


def grpo_config(args: argparse.Namespace):
    from trl import GRPOConfig

    vllm = {"use_vllm": True, "vllm_mode": args.vllm_mode,
            "vllm_gpu_memory_utilization": args.vllm_gpu_memory_utilization} if args.use_vllm else {}
    if args.use_vllm and args.vllm_server_base_url:
        vllm["vllm_server_base_url"] = args.vllm_server_base_url
    return GRPOConfig(
        output_dir=args.output_dir, num_generations=args.num_generations,
        per_device_train_batch_size=args.per_device_batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        max_completion_length=args.max_completion_length, max_tool_calling_iterations=args.max_tool_calls,
        learning_rate=args.learning_rate, beta=args.beta, num_train_epochs=args.epochs, max_steps=args.max_steps,
        bf16=False if args.cpu else args.bf16, use_cpu=args.cpu, report_to=args.report_to,
        logging_steps=1, log_completions=True, seed=args.seed, **vllm,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from transformers import AutoTokenizer
    from trl import GRPOTrainer

    from dsgym.rl.trl import DSGymEnvironments, train_dataset, trainer_kwargs

    config = grpo_config(args)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    dataset = train_dataset(args.suite, task_ids=args.tasks, repeat=args.repeat, system_prompt=args.system_prompt)
    pool_size = args.pool_size or config.generation_batch_size
    with DSGymEnvironments(args.suite, pool_size=pool_size, format_penalty=args.format_penalty,
                           max_turns=args.max_turns, cell_timeout=args.cell_timeout) as environments:
        extra = trainer_kwargs(environments, tokenizer, interface=None if args.interface == "auto" else args.interface,
                               max_turns=args.max_turns, turn_tokens=args.turn_tokens)
        if "rollout_func" in extra and args.use_vllm:
            raise SystemExit("the text protocol (TextRollout) generates with transformers: drop --use-vllm, "
                             "or use a model whose tool calls TRL can parse")
        print(f"dsgym: {len(dataset)} rows, {'text protocol' if 'rollout_func' in extra else 'tool calls'}, "
              f"{pool_size} warm sandboxes")
        trainer = GRPOTrainer(model=args.model, args=config, train_dataset=dataset, processing_class=tokenizer,
                              **extra)
        trainer.train()
        trainer.save_model(args.output_dir)
    graded = environments.episodes
    solved = sum(e["score"] == 1.0 for e in graded)
    print(f"dsgym: {len(graded)} episodes graded, {solved} solved; model saved to {args.output_dir}")


if __name__ == "__main__":
    main()
