"""`python -m ml_engine ...`: data, train, generate, evaluate.

Run `python -m ml_engine <command> --help` for each command's options.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build_parser() -> argparse.ArgumentParser:
    from ml_engine.cli.train_cmd import add_train_parser

    parser = argparse.ArgumentParser(prog="python -m ml_engine", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    try:
        from ml_engine.cli.data_cmd import add_data_parser

        add_data_parser(sub)
    except ImportError:
        pass
    add_train_parser(sub)
    for module in ("generate_cmd", "evaluate_cmd"):
        try:
            mod = __import__(f"ml_engine.cli.{module}", fromlist=["add_parser"])
            mod.add_parser(sub)
        except ImportError:
            pass
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0
