"""`gpucost model init DIR`: a local model folder (random weights of a preset's shape and a
tokenizer) for `gpucost run --server ... --model DIR` without downloading anything."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def model() -> None:
    """Local model folders for endpoint runs."""


@model.command("init")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--preset", default="tiny", show_default=True,
              help="Text preset whose shape the random weights take (see gpucost workloads).")  # fmt: skip
@click.option("--tokenizer", "tokenizer_from", type=click.Path(path_type=Path), default=None,
              help="Copy the tokenizer of this local model folder (default: train a small one "
              "offline).")  # fmt: skip
@click.option(
    "--dtype", default=None, help="fp32, bf16 or fp16 (default: fp32 for tiny, else bf16)."
)
@click.option("--seed", default=0, show_default=True, type=int)
def init(
    folder: Path, preset: str, tokenizer_from: Path | None, dtype: str | None, seed: int
) -> None:
    """Write FOLDER: a model with random weights in a preset's shape and a tokenizer, offline."""
    from workloads.model_folder import check_request, init_model_folder

    check_request(folder, preset, dtype, tokenizer_from)  # refused before any weight is built
    click.echo(f"Building {preset} with random weights in {folder} ...", err=True)
    made = init_model_folder(folder, preset, tokenizer_from=tokenizer_from, dtype=dtype, seed=seed)
    click.echo(
        f"wrote {made.path}: {made.preset} shape, random weights, {made.params:,} parameters, "
        f"vocabulary {made.vocab_size:,} (tokenizer {made.tokenizer_source})"
    )
    click.echo(f"serve it: gpucost run --server transformers --model {made.path} --concurrency 1,4")
