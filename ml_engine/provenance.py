"""Provenance of runs and models: content hashes of folders and files, the code commit, and the
fingerprint of the scene stream that training draws from (the renderer and caption sources plus
the seed and pool size that drive them)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path


def folder_sha256(folder: str | os.PathLike) -> str:
    """One digest over every file's relative path and bytes, in sorted order: any changed byte changes it."""
    root = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


_verified: dict[str, tuple[tuple, str]] = {}


def folder_sha256_checked(folder: str | os.PathLike) -> str:
    """folder_sha256, hashed again only when a file was added, removed or rewritten (its size, mtime or inode
    changed) since this process last hashed the folder: a worker checks its model before every job, and hashing
    the diffusion model's files took longer than drawing the GAN's image."""
    root = Path(folder).resolve()
    signature = tuple(
        (path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        for path in sorted(p for p in root.rglob("*") if p.is_file())
        for stat in (path.stat(),)
    )
    known = _verified.get(str(root))
    if known is not None and known[0] == signature:
        return known[1]
    digest = folder_sha256(root)
    _verified[str(root)] = (signature, digest)
    return digest


def files_fingerprint(paths: list[str | os.PathLike]) -> str:
    """The dataset fingerprint: a SHA-256 over files or folders (folders hashed as by folder_sha256)."""
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        digest.update(folder_sha256(path).encode() if path.is_dir() else hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def code_commit(repo: str | os.PathLike | None = None) -> str:
    """The git commit of the code (with "-dirty" when the tree has changes), or "unknown" outside git."""
    cwd = str(repo or Path(__file__).resolve().parents[1])
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def stream_fingerprint(seed: int, pool_size: int | str = "") -> str:
    """What a training run's data is when it draws scenes from the renderer instead of a folder."""
    from ml_engine.data import captions, render, scene, spec

    sources = files_fingerprint([m.__file__ for m in (spec, scene, render, captions)])
    return hashlib.sha256(f"{sources};seed={seed};pool={pool_size}".encode()).hexdigest()


def training_tags(config) -> dict[str, str]:
    """MLflow tags every training run starts with."""
    commit = code_commit()
    fingerprint = stream_fingerprint(config.seed, getattr(config, "scene_pool", ""))
    return {"dataset_fingerprint": fingerprint, "code_commit": commit, "mlflow.source.git.commit": commit}
