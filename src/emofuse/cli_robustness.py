"""``emofuse robustness``: how performance falls with missing modalities and noise (registered in :mod:`emofuse.cli`).

* ``emofuse robustness features CHECKPOINT DATASET``: a trained zoo checkpoint on a feature
  dataset: the metrics for every subset of its modalities and under growing Gaussian feature
  noise on each modality (:func:`emofuse.robustness.feature_rows`).

Prints a table (or Markdown / JSON / CSV with ``--format``); ``--out DIR`` also writes
``robustness.{md,csv,json,png}``. Part of the command line (layer 1): it uses only public names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from emofuse.errors import ConfigError, EmofuseError, MissingFileError

__all__ = ["APPS", "app", "features_cmd"]

console = Console()
err_console = Console(stderr=True)
app = typer.Typer(help="Robustness sweeps: missing modalities, feature noise (and corruptions of raw media).",
                  no_args_is_help=True)


def parse_levels(text: str) -> list[float]:
    """``"0,0.25,0.5"`` → ``[0.0, 0.25, 0.5]``; raises :class:`ConfigError` naming the bad entry."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            out.append(float(part))
        except ValueError:
            raise ConfigError(f"--noise-levels: {part!r} is not a number (give e.g. 0,0.25,0.5,1,2)") from None
    if not out:
        raise ConfigError("--noise-levels: give at least one level, e.g. 0,0.25,0.5,1,2")
    return out


def _fail(exc: EmofuseError) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


@app.command("features")
def features_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="A trained zoo checkpoint folder (emofuse train).",
                                               show_default=False)],
    data: Annotated[Path, typer.Argument(help="Its feature dataset (any format emofuse evaluate reads).",
                                         show_default=False)],
    noise_levels: Annotated[str, typer.Option("--noise-levels", help="Comma-separated noise σ, in units of each "
        "feature dimension's std (0 = clean is always included).")] = "0,0.25,0.5,1,2",
    out: Annotated[Path | None, typer.Option("--out", help="Also write robustness.{md,csv,json,png} here.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Printed format: table, markdown, json or csv.")] = "table",
    data_format: Annotated[str, typer.Option("--data-format", help="Dataset reader name, or auto.")] = "auto",
    split: Annotated[str | None, typer.Option(help="Split inside multi-split dataset files.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the feature noise.")] = 0,
    target: Annotated[str | None, typer.Option(help="Name of the model in the report (default: its zoo name).")]
        = None,
) -> None:
    """Metrics of a checkpoint with every subset of its modalities, and under feature noise per modality."""
    import emofuse
    import emofuse.robustness as rb

    try:
        rb.FORMATS.get(fmt)  # refuse an unknown format before the sweep, with close matches
        levels = parse_levels(noise_levels)
        if not checkpoint.exists():
            raise MissingFileError(f"checkpoint not found: {checkpoint}")
        if not (checkpoint / "model.safetensors").is_file():
            raise ConfigError(f"{checkpoint} is not a zoo checkpoint folder (no model.safetensors); train one with "
                              "`emofuse train CONFIG`")
        if not data.exists():
            raise MissingFileError(f"dataset not found: {data}")
        model = emofuse.load_model(checkpoint)
        ds = emofuse.load_dataset(data, format=data_format, **({"split": split} if split else {}))
        name = target or model.registry_name
        rows = rb.feature_rows(model, ds, levels, target=name, seed=seed)
        title = f"Robustness of {name} on {data.name} (n={len(ds)})"
        text = rb.render(rows, fmt, title=title)
        if out is not None:
            paths = rb.write_report(rows, out, title=title, meta={"checkpoint": str(checkpoint), "data": str(data),
                                                                 "noise_levels": levels, "noise_seed": seed})
    except EmofuseError as exc:
        raise _fail(exc) from None
    print(text, end="")
    if out is not None:
        err_console.print(f"wrote {', '.join(str(p) for p in paths.values())}", highlight=False, soft_wrap=True)


# ``emofuse robustness expert NAME DATA --corruption C --levels ...`` (raw-media corruptions
# through an expert) belongs here: emofuse.robustness.experts provides the sweep; its command
# is registered on ``app`` beside ``features`` once that module exists.

#: Sub-command groups for :mod:`emofuse.cli` (``app.add_typer``), by name.
APPS = {"robustness": app}
