"""``emofuse robustness``: how performance falls with missing modalities and noise (registered in :mod:`emofuse.cli`).

* ``emofuse robustness features CHECKPOINT DATASET``: a trained zoo checkpoint on a feature
  dataset: the metrics for every subset of its modalities and under growing Gaussian feature
  noise on each modality (:func:`emofuse.robustness.feature_rows`).
* ``emofuse robustness expert NAME CORPUS``: a shipped voice, face or text expert on a labelled
  corpus (any file ``emofuse evaluate`` reads), clean and under each registered corruption of its
  raw input at growing severity (:func:`emofuse.robustness.expert_sweep`), scored in ``ekman7``.

Prints a table (or Markdown / JSON / CSV with ``--format``); ``--out DIR`` also writes
``robustness.{md,csv,json,png}``. Part of the command line (layer 1): it uses only public names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from emofuse.errors import ConfigError, EmofuseError, MissingFileError

__all__ = ["APPS", "app", "expert_cmd", "features_cmd"]

console = Console()
err_console = Console(stderr=True)
app = typer.Typer(help="Robustness sweeps: missing modalities, feature noise (and corruptions of raw media).",
                  no_args_is_help=True)


def parse_levels(text: str, flag: str = "--noise-levels", example: str = "0,0.25,0.5,1,2") -> list[float]:
    """``"0,0.25,0.5"`` → ``[0.0, 0.25, 0.5]``; raises :class:`ConfigError` naming ``flag`` and the bad entry."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            out.append(float(part))
        except ValueError:
            raise ConfigError(f"{flag}: {part!r} is not a number (give e.g. {example})") from None
    if not out:
        raise ConfigError(f"{flag}: give at least one level, e.g. {example}")
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


_AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac")


def _bank_files(bank: Path) -> list[Path]:
    """Audio files in ``bank`` (a folder, searched recursively, or one file)."""
    if not bank.exists():
        raise MissingFileError(f"--bank: not found: {bank}")
    files = [bank] if bank.is_file() else sorted(p for p in bank.rglob("*") if p.suffix.lower() in _AUDIO_SUFFIXES)
    if not files:
        raise ConfigError(f"--bank: no audio files ({', '.join(_AUDIO_SUFFIXES)}) in {bank}")
    return files


@app.command("expert")
def expert_cmd(
    name: Annotated[str, typer.Argument(help="A shipped voice, face or text expert (emofuse models list).",
                                        show_default=False)],
    data: Annotated[Path, typer.Argument(help="A labelled corpus file or folder (what emofuse evaluate reads).",
                                         show_default=False)],
    corruption: Annotated[str | None, typer.Option("--corruption", "-c", help="Comma-separated corruptions of the "
        "expert's modality (default: all of them; babble_noise needs other talkers, see --bank).")] = None,
    levels: Annotated[str | None, typer.Option("--levels", help="Comma-separated levels in the corruption's unit "
        "(one corruption only; default its standard levels).")] = None,
    bank: Annotated[Path | None, typer.Option("--bank", help="Folder of speech by other talkers for babble_noise "
        "(default: the corpus's files of speakers not scored).")] = None,
    weights: Annotated[Path | None, typer.Option(help="Another weights folder for the expert (a retrained head).")]
        = None,
    limit: Annotated[int | None, typer.Option(help="Score a random sample of N usable items (seeded by --seed).")]
        = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also write robustness.{md,csv,json,png} here.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Printed format: table, markdown, json or csv.")] = "table",
    data_format: Annotated[str, typer.Option("--data-format", help="Corpus reader name, or auto.")] = "auto",
    usage: Annotated[str | None, typer.Option(help="FER2013 Usage filter, e.g. PublicTest.")] = None,
    view: Annotated[str | None, typer.Option(help="GoEmotions view: goemotions28 or ekman7.")] = None,
    text_column: Annotated[str | None, typer.Option(help="Text column (generic text tables).")] = None,
    label_column: Annotated[str | None, typer.Option(help="Label column (generic tables/CSV).")] = None,
    label_space: Annotated[str | None, typer.Option(help="Label space of the corpus labels.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the corruption draws (per item, the same at every level).")]
        = 0,
    batch_size: Annotated[int, typer.Option(help="Items per expert call.")] = 32,
) -> None:
    """An expert's accuracy/UAR on a corpus, clean and as its raw input is corrupted more and more."""
    import emofuse.robustness as rb
    from emofuse.experts import load_expert

    try:
        rb.FORMATS.get(fmt)
        if not data.exists():
            raise MissingFileError(f"corpus not found: {data}")
        expert = load_expert(name, weights) if weights is not None else load_expert(name)
        names = ([c.strip() for c in corruption.split(",") if c.strip()] if corruption else
                 rb.list_corruptions(getattr(expert, "modality", None)))
        specs = [rb.get_corruption(c) for c in names]  # unknown names raise with close matches
        level_list = _parse_level_list(levels, names) if levels else None
        options = {k: v for k, v in {"usage": usage, "view": view, "text_column": text_column,
                                     "label_column": label_column, "label_space": label_space}.items()
                   if v is not None}
        inputs = rb.corpus_inputs(expert, data, format=data_format, limit=limit, seed=seed, **options)
        rows: list[dict] = []
        cache: dict = {}  # the clean readings, scored once for every corruption
        for spec in specs:
            ctx: dict = {}
            if spec.name == "babble_noise":
                try:
                    ctx = {"bank": rb.babble_bank(inputs, seed=seed,
                                                  sources=_bank_files(bank) if bank is not None else None)}
                except EmofuseError as exc:
                    if corruption:  # asked for by name: an error
                        raise
                    err_console.print(f"skipping babble_noise: {exc}", highlight=False, soft_wrap=True)
                    continue
            rows += rb.expert_sweep(expert, inputs.items, inputs.labels, spec.name, level_list, seed=seed,
                                    batch_size=batch_size, progress=True, target=name, cache=cache, **ctx)
        skipped = ", ".join(f"{k}: {v}" for k, v in inputs.skipped.items())
        title = f"Robustness of {name} on {data.name} (n={len(inputs.labels)}" + (f"; left out {skipped})"
                                                                                 if skipped else ")")
        text = rb.render(rows, fmt, title=title)
        if out is not None:
            paths = rb.write_report(rows, out, title=title, meta={
                "expert": name, "weights": str(weights) if weights else None, "data": str(data), "seed": seed,
                "n": len(inputs.labels), "skipped": inputs.skipped, "corruptions": [s.name for s in specs]})
    except EmofuseError as exc:
        raise _fail(exc) from None
    print(text, end="")
    if out is not None:
        err_console.print(f"wrote {', '.join(str(p) for p in paths.values())}", highlight=False, soft_wrap=True)


def _parse_level_list(text: str, names: list[str]) -> list[float]:
    if len(names) != 1:
        raise ConfigError(f"--levels goes with one --corruption (units differ); got {len(names)}: {', '.join(names)}")
    return parse_levels(text, "--levels", "30,20,10")


#: Sub-command groups for :mod:`emofuse.cli` (``app.add_typer``), by name.
APPS = {"robustness": app}
