"""`python -m ml_engine <command>`: the Shapes data, training, generation, evaluation and the model pipeline.

Commands: data, train, log-run, attach-critic, generate, models, evaluate, attention-iou, compare, pipeline.

Run `python -m ml_engine <command> --help` for each command's options. Heavy libraries (torch,
diffusers, mlflow) are imported by the command that needs them, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build_parser() -> argparse.ArgumentParser:
    from ml_engine.cli import (
        attach_critic_cmd,
        attention_cmd,
        compare_cmd,
        data_cmd,
        evaluate_cmd,
        generate_cmd,
        log_run_cmd,
        models_cmd,
        pipeline_cmd,
        train_cmd,
    )

    parser = argparse.ArgumentParser(prog="python -m ml_engine", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    data_cmd.add_data_parser(sub)
    train_cmd.add_train_parser(sub)
    log_run_cmd.add_parser(sub)
    attach_critic_cmd.add_parser(sub)
    generate_cmd.add_parser(sub)
    models_cmd.add_parser(sub)
    evaluate_cmd.add_parser(sub)
    attention_cmd.add_parser(sub)
    compare_cmd.add_parser(sub)
    pipeline_cmd.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0
