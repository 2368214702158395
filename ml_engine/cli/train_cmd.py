"""`python -m ml_engine train --config FILE [--device cuda] [--name N] [--max-steps S] [--max-minutes M]`"""

from __future__ import annotations


def add_train_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train the autoencoder, the diffusion model, the GAN or the critic from a JSON config"
    )
    p.add_argument(
        "--config",
        required=True,
        help="JSON file with a `kind` (autoencoder, diffusion, gan, critic, domain_classifier, caption_reader)",
    )
    p.add_argument("--device", help="cpu or cuda (overrides the config)")
    p.add_argument("--name", help="run name (overrides the config); a run with checkpoints resumes")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--max-minutes", type=float)
    p.add_argument("--output-dir", help="where the final model is saved")
    p.add_argument("--no-mlflow", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ml_engine.config import load_config

    overrides = {
        "device": args.device,
        "name": args.name,
        "max_steps": args.max_steps,
        "max_minutes": args.max_minutes,
        "output_dir": args.output_dir,
    }
    if args.no_mlflow:
        overrides["mlflow"] = False
    config = load_config(args.config, **overrides)
    if config.kind == "autoencoder":
        from ml_engine.training.autoencoder import train_autoencoder as train
    elif config.kind == "gan":
        from ml_engine.training.gan import train_gan as train
    elif config.kind == "critic":
        from ml_engine.training.critic import train_critic as train
    elif config.kind == "domain_classifier":
        from ml_engine.training.domain_classifier import train_domain_classifier as train
    elif config.kind == "caption_reader":
        from ml_engine.training.caption_reader import train_caption_reader as train
    else:
        from ml_engine.training.diffusion import train_diffusion as train
    output = train(config)
    print(f"saved {config.kind} to {output}")
    return 0
