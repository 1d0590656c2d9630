"""The ``emofuse`` command line: a thin layer over the public Python API."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from emofuse.cli_analyze import gather_texts, run_batch, run_texts, show_result
from emofuse.cli_explain import COMMANDS as EXPLAIN_COMMANDS
from emofuse.cli_output import console, err_console, json_safe, print_confusion, print_metrics, write_predictions
from emofuse.cli_robustness import APPS as ROBUSTNESS_APPS
from emofuse.cli_serve import COMMANDS as SERVE_COMMANDS
from emofuse.errors import ConfigError, EmofuseError, MissingFileError

app = typer.Typer(help="emofuse: multimodal emotion recognition (text, voice, face).", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
models_app = typer.Typer(help="Fusion models in the zoo.", no_args_is_help=True)
app.add_typer(models_app, name="models")
[app.command(name)(cmd) for name, cmd in SERVE_COMMANDS.items()]
[app.command(name)(cmd) for name, cmd in EXPLAIN_COMMANDS.items()]
[app.add_typer(sub, name=name) for name, sub in ROBUSTNESS_APPS.items()]
F = TypeVar("F", bound=Callable[..., Any])


def _friendly(fn: F) -> F:
    """Turn user-facing emofuse errors into a one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except EmofuseError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@models_app.command("list")
@_friendly
def models_list(pattern: Annotated[str, typer.Argument(help="Shell-style filter, e.g. 'late_*'.")] = "*",
                json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the fusion models and the shipped per-modality experts."""
    import dataclasses

    from emofuse.models import MODELS, list_models

    rows = []
    for name in list_models(pattern):
        cls = MODELS.get(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        fields = [f.name for f in dataclasses.fields(cls.config_class)]
        rows.append({"name": name, "kind": "fusion", "summary": doc, "config": fields})
    experts = []
    try:
        from emofuse.experts import EXPERTS, list_experts, read_card, weights_dir
    except ImportError as exc:  # an expert's optional backend is missing
        err_console.print(f"[yellow]experts unavailable:[/] {exc}")
    else:
        for name in list_experts(pattern):
            cls = EXPERTS.get(name)
            try:
                card = read_card(weights_dir(name))
                metrics = card.get("metrics", {})
            except EmofuseError:
                metrics = {"error": "weights missing"}
            experts.append({"name": name, "kind": f"expert ({cls.modality})", "summary": cls.description,
                            "label_space": cls.label_space, "metrics": metrics})
    if json_out:
        print(json.dumps(rows + experts, indent=2, default=str))
        return
    table = Table(title="emofuse fusion models")
    for col in ("name", "summary", "config keys"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], r["summary"], ", ".join(r["config"]))
    console.print(table)
    if experts:
        table = Table(title="shipped experts (weights inside the package; see their model cards)")
        for col in ("name", "modality", "labels", "summary"):
            table.add_column(col, overflow="fold")
        for r in experts:
            table.add_row(r["name"], r["kind"], r["label_space"], r["summary"])
        console.print(table)


@models_app.command("show")
@_friendly
def models_show(name: str) -> None:
    """Print the default config of a fusion model as YAML."""
    import yaml

    from emofuse.config import to_dict
    from emofuse.models import model_config

    print(yaml.safe_dump({"name": name, "params": to_dict(model_config(name))}, sort_keys=False), end="")


@app.command("labels")
@_friendly
def labels(name: Annotated[str | None, typer.Argument(help="A label space to show.")] = None) -> None:
    """List label spaces, or show the classes of one."""
    from emofuse.labels import get_label_space, list_label_spaces

    names = [name] if name else list_label_spaces()
    table = Table(title="label spaces")
    table.add_column("name")
    table.add_column("classes", overflow="fold")
    table.add_column("about", overflow="fold")
    for n in names:
        s = get_label_space(n)
        table.add_row(n, ", ".join(s.classes), s.description)
    console.print(table)


@app.command("train")
@_friendly
def train(
    config: Annotated[Path, typer.Argument(help="YAML run config (model, data, train, output_dir).")],
    overrides: Annotated[list[str] | None, typer.Option("--set", "-s", help="Override: key.sub=value.")] = None,
    output_dir: Annotated[Path | None, typer.Option("--output-dir", "-o")] = None,
) -> None:
    """Train one fusion model from a config file; selects the best epoch on validation data."""
    from emofuse.config import apply_overrides, load_yaml
    from emofuse.experiment import load_run_config, train_from_config

    cfg = load_run_config(apply_overrides(load_yaml(config), overrides or []))
    result = train_from_config(cfg, output_dir=output_dir)
    print_metrics(result["validation"], title=f"validation metrics (best epoch {result['best_epoch']}, "
                   f"selected on {result['monitor']})")
    console.print(f"checkpoint: {result['output_dir']}")


@app.command("evaluate")
@_friendly
def evaluate(
    model: Annotated[str, typer.Argument(
        help="A checkpoint directory (model.safetensors + model_card.json) or a shipped expert name.")],
    data: Annotated[Path, typer.Argument(help="Dataset/corpus file or folder (e.g. an official test file).")],
    fmt: Annotated[str, typer.Option("--format", help="Reader name, or auto.")] = "auto",
    split: Annotated[str | None, typer.Option(help="Split inside multi-split files (MMSA: test; GoEmotions).")] = None,
    usage: Annotated[str | None, typer.Option(help="FER2013 Usage filter, e.g. PublicTest.")] = None,
    text_column: Annotated[str | None, typer.Option(help="Text column (generic text tables).")] = None,
    label_column: Annotated[str | None, typer.Option(help="Label column (generic tables/CSV).")] = None,
    path_column: Annotated[str | None, typer.Option(help="Audio-file column of an audio list (default: path; "
        "absolute paths, or relative to the list's folder).")] = None,
    id_column: Annotated[str | None, typer.Option(help="Item-id column (default: the path or row as written).")]
        = None,
    speaker_column: Annotated[str | None, typer.Option(help="Speaker column (audio lists, text tables).")] = None,
    label_map: Annotated[Path | None, typer.Option(help="JSON/YAML mapping of raw label names.")] = None,
    label_space: Annotated[str | None, typer.Option(help="Label space of the corpus labels.")] = None,
    view: Annotated[str | None, typer.Option(help="GoEmotions view: goemotions28 or ekman7.")] = None,
    by: Annotated[str | None, typer.Option(help="Experts: also per group: speaker, gender, ... (item field).")] = None,
    weights: Annotated[Path | None, typer.Option(help="Experts: a weights folder (head + card) to use instead of "
        "the shipped one, e.g. a head a recipe retrained.")] = None,
    speaker_norm: Annotated[bool, typer.Option("--speaker-norm", help="voice-whisper: blend in the speaker-"
        "normalised head, statistics over each speaker's items (needs speakers).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    predictions: Annotated[Path | None, typer.Option(help="Write one CSV row per item.")] = None,
    allow_pickle: Annotated[bool, typer.Option(help="Allow reading a trusted pickle (runs its code).")] = False,
    pickle_reason: Annotated[str | None, typer.Option(help="Why the pickle is trusted.")] = None,
) -> None:
    """Evaluate a trained fusion checkpoint or a shipped expert on a data file."""
    if not Path(model).exists() and _is_expert(model):
        if weights is not None and not (weights / "card.json").is_file():
            raise MissingFileError(f"--weights: no card.json in {weights} (a folder with head.safetensors + card.json)")
        metrics = _evaluate_expert(model, data, fmt, split=split, usage=usage, text_column=text_column,
                                   label_column=label_column, label_map=label_map, label_space=label_space,
                                   path_column=path_column, id_column=id_column, speaker_column=speaker_column,
                                   view=view, predictions=predictions, by=by, weights=weights,
                                   speaker_norm=speaker_norm or None)
    elif speaker_norm:
        raise ConfigError("--speaker-norm goes with a shipped voice expert's name")
    elif weights is not None:
        raise ConfigError("--weights goes with a shipped expert's name; a checkpoint folder holds its own weights")
    else:
        from emofuse import evaluate as evaluate_fn

        kwargs: dict[str, Any] = {"format": fmt, "split": split}
        if allow_pickle:
            kwargs.update(allow_pickle=True, pickle_reason=pickle_reason)
        metrics, pred = evaluate_fn(model, data, return_predictions=True, **kwargs)
        if predictions is not None:
            write_predictions(pred, predictions, metrics.get("classes"))
    if json_out:
        print(json.dumps(json_safe(metrics), indent=2, allow_nan=False))
    else:
        print_metrics(metrics, title=f"{model} on {data}")
        if "confusion_matrix" in metrics:
            print_confusion(metrics)


def _is_expert(name: str) -> bool:
    try:
        from emofuse.experts import EXPERTS
    except ImportError:
        return False
    if name in EXPERTS:
        return True
    if "/" not in name and "\\" not in name and not name.endswith((".json", ".safetensors")):
        EXPERTS.get(name)  # neither a path nor an expert: raise with close matches
    return False


def _evaluate_expert(name: str, data: Path, fmt: str, *, predictions: Path | None, **options: Any) -> dict[str, Any]:
    from rich.progress import Progress

    from emofuse.experts import evaluate_expert

    opts = {k: (str(v) if isinstance(v, Path) else v) for k, v in options.items() if v is not None}
    with Progress(console=err_console, transient=True) as progress:
        bar = progress.add_task(f"evaluate {name}", total=None)
        return evaluate_expert(name, data, format=fmt, predictions=predictions,
                               on_progress=lambda done, total: progress.update(bar, completed=done, total=total),
                               **opts)


@app.command("benchmark")
@_friendly
def benchmark_cmd(
    models: Annotated[str | None, typer.Option(help="Comma-separated model names or patterns (default: all).")] = None,
    seeds: Annotated[int, typer.Option(help="Number of seeds (0..n-1).")] = 3,
    train_path: Annotated[str, typer.Option("--train", help="Training data, or 'synthetic'.")] = "synthetic",
    valid_path: Annotated[str | None, typer.Option("--valid", help="Validation data (model selection).")] = None,
    fmt: Annotated[str, typer.Option("--format")] = "auto",
    context: Annotated[str, typer.Option(help="Context encoder: off, on or both.")] = "off",
    epochs: Annotated[int, typer.Option()] = 30,
    patience: Annotated[int, typer.Option()] = 8,
    batch_size: Annotated[int, typer.Option()] = 32,
    lr: Annotated[float, typer.Option()] = 1e-3,
    modality_dropout: Annotated[float, typer.Option()] = 0.1,
    config: Annotated[Path | None, typer.Option(
        help="YAML with keys common (params for all models), params (per model), train, data.")] = None,
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o")] = Path("runs/benchmark"),
    robustness: Annotated[bool, typer.Option(help="Also score with each modality removed.")] = True,
) -> None:
    """Train models × seeds and print a mean ± std table (validation); saves Markdown, CSV, JSON."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from emofuse.config import from_dict, load_yaml
    from emofuse.experiment import SYNTHETIC, SYNTHETIC_PARAMS, DataSection, benchmark, summary_rows
    from emofuse.models import list_models
    from emofuse.train import TrainConfig

    names: list[str] = []
    for part in (models.split(",") if models else ["*"]):
        found = list_models(part.strip())
        if not found:
            from emofuse.models import MODELS

            MODELS.get(part.strip())  # raises with suggestions
        names += [n for n in found if n not in names]
    ctx = {"off": (False,), "on": (True,), "both": (False, True)}.get(context)
    if ctx is None:
        raise typer.BadParameter("context must be off, on or both")
    extra = load_yaml(config) if config else {}
    train_extra = extra.pop("train", {})
    cfg = from_dict(TrainConfig, {"epochs": epochs, "patience": patience, "batch_size": batch_size, "lr": lr,
                                  "modality_dropout": modality_dropout, "progress": False, **train_extra})
    data = from_dict(DataSection, {"train": train_path, "valid": valid_path, "format": fmt, **extra.pop("data", {})})
    common, params = extra.pop("common", {}), extra.pop("params", {})
    if data.train == SYNTHETIC and config is None:
        params = SYNTHETIC_PARAMS
    if extra:
        from emofuse.errors import ConfigError

        raise ConfigError(f"unknown benchmark config keys: {sorted(extra)} (allowed: common, params, train, data)")
    total = len(names) * len(ctx) * seeds
    progress = Progress(TextColumn("[bold]benchmark"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=err_console, transient=True)
    with progress:
        bar = progress.add_task("runs", total=total, info="")

        def on_result(row: dict[str, Any]) -> None:
            ctx_name = "on" if row["context"] else "off"
            info = f"{row['model']} context={ctx_name} seed {row['seed']}: {row['seconds']:.1f}s"
            progress.update(bar, advance=1, info=info)
            if not err_console.is_terminal:  # logs and CI see one line per finished run
                err_console.print(f"[{int(progress.tasks[0].completed)}/{total}] {info}", highlight=False)

        report = benchmark(names, list(range(seeds)), data=data, train=cfg, params=params, common=common,
                           contexts=ctx, robustness=robustness, output_dir=output_dir, on_result=on_result)
    header, rows = summary_rows(report)
    table = Table(title=f"validation results, mean ± std over {seeds} seeds (model selection on {report['monitor']})")
    for h in header:
        table.add_column(h, justify="left" if h in ("model", "context") else "right")
    for r in rows:
        table.add_row(*r)
    console.print(table)
    console.print(f"saved: {output_dir}/results.md, results.csv, results.json")


@app.command("convert")
@_friendly
def convert(
    source: Annotated[Path, typer.Argument(help="Input dataset (npz, MMSA pickle, .csd, directory).")],
    target: Annotated[Path, typer.Argument(help="Output directory in emofuse's safe feature format.")],
    fmt: Annotated[str, typer.Option("--format")] = "auto",
    split: Annotated[str | None, typer.Option()] = None,
    allow_pickle: Annotated[bool, typer.Option(help="Allow reading a trusted pickle (runs its code).")] = False,
    pickle_reason: Annotated[str | None, typer.Option(help="Why the pickle is trusted.")] = None,
) -> None:
    """Convert a dataset once into the safe, memory-mappable emofuse format."""
    from emofuse import load_dataset

    kwargs: dict[str, Any] = {"format": fmt}
    if split:
        kwargs["split"] = split
    if allow_pickle:
        kwargs.update(allow_pickle=True, pickle_reason=pickle_reason)
    ds = load_dataset(source, **kwargs)
    ds.save(target)
    console.print(f"wrote {len(ds)} samples with modalities {list(ds.features)} to {target}")


def _parse_sets(overrides: list[str] | None) -> dict[str, Any]:
    from emofuse.config import apply_overrides

    return apply_overrides({}, overrides or [])


@app.command("evaluate-analysis")
@_friendly
def evaluate_analysis(
    results: Annotated[list[Path], typer.Argument(help="analysis.json files or folders of them (batch outputs).")],
    labels: Annotated[Path, typer.Option("--labels", "-l", help="CSV: file,label or file,start,end,label.")],
    unit: Annotated[str, typer.Option(help="segment, or label (one item per labelled span/file).")] = "segment",
    fusion: Annotated[str | None, typer.Option(help="Fuse the saved readings again with this rule: evidence, "
                                                     "linear or log.")] = None,
    fusion_model: Annotated[Path | None, typer.Option(help="... or with this trained fusion checkpoint.")] = None,
    drop: Annotated[list[str] | None, typer.Option(help="Leave a modality out before fusing again (e.g. text: "
                                                        "as without speech recognition); repeatable.")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", "-s", help="Fusion settings: key=value "
                                                                            "(certainty_power, priors.text, ...).")]
    = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Score analyses against labels: per-modality and fused accuracy, UAR, macro-F1, by file and overall."""
    from emofuse.analysis import AnalyzeConfig, make_fuser, print_scores, score_analyses

    fuser = None
    if fusion or fusion_model or overrides:
        settings = _parse_sets(overrides)
        settings.update({k: v for k, v in (("fusion", fusion), ("fusion_model", fusion_model and str(fusion_model)))
                         if v})
        fuser = make_fuser(AnalyzeConfig.from_dict(settings))
    report = score_analyses(results, labels, unit=unit, fuser=fuser, drop=tuple(drop or ()))
    if json_out:
        print(json.dumps(json_safe(report), indent=2, allow_nan=False))
    else:
        print_scores(report, console=console)


@app.command("analyze")
@_friendly
def analyze_cmd(
    inputs: Annotated[list[Path] | None, typer.Argument(
        help="Media files (video/audio), text files, or folders (batch mode).", show_default=False)] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Analyse the demo clip that ships with emofuse.")] = False,
    text: Annotated[list[str] | None, typer.Option("--text", help="Analyse this text instead of a file; repeat "
        "for several texts (one row each, models loaded once); '-' reads stdin, one text per line.")] = None,
    text_file: Annotated[Path | None, typer.Option("--text-file", help="Analyse each line of this file as a text "
        "(blank lines skipped).")] = None,
    transcript: Annotated[Path | None, typer.Option(
        "--transcript", "-t", help="Transcript (SRT, WebVTT, JSON, plain text) of a single input; for a batch, "
        "a folder of transcripts named after the inputs (clip.mp4 -> clip.srt/.vtt/.json/.txt).")] = None,
    encoding: Annotated[str | None, typer.Option(help="Encoding of the transcript, --text-file or stdin if not "
        "UTF-8, e.g. cp1252.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write results here (JSON, CSV, Parquet, HTML report, PNG timeline). "
        "Without it nothing is written to disk (except for --demo: runs/demo).")] = None,
    formats: Annotated[str, typer.Option("--formats", help="Comma-separated output formats (json, csv, parquet, "
        "html, png: the writers of emofuse.analysis.writers), or all.")] = "all",
    from_list: Annotated[Path | None, typer.Option("--from-list", help="A text file with one input path per line.")]
        = None,
    asr: Annotated[bool, typer.Option("--asr/--no-asr", help="Transcribe speech (Whisper tiny.en, English only).")]
        = True,
    fps: Annotated[float | None, typer.Option("--fps", help="Video frames sampled per second (face path).")] = None,
    segmentation: Annotated[str | None, typer.Option(help="auto | transcript | vad | window")] = None,
    fusion: Annotated[str | None, typer.Option(help="evidence (default), trained (shipped model), linear, log")]
        = None,
    fusion_model: Annotated[Path | None, typer.Option(
        "--fusion-model", help="A trained zoo checkpoint over the experts' ekman7 outputs, instead of the rule.")]
        = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", "-s", help="Any AnalyzeConfig field: key=value.")]
        = None,
    explain: Annotated[bool, typer.Option("--explain", help="Explain each segment: modality contributions "
        "(Shapley), highlighted words, the voice stretch and face frames that mattered (with heat-maps in the HTML "
        "report when --set thumbnails=true), and a rationale. Slower; off by default.")] = False,
    physio: Annotated[Path | None, typer.Option("--physio", help="Wearable signals recorded alongside (WESAD .npz, "
        "CSV/Parquet with a time column, Empatica E4 folder/zip, EDF/BDF); a signals file alone needs no flag.")]
        = None,
    physio_offset: Annotated[float | None, typer.Option(help="Media time (s) of the signals' time 0.")] = None,
    redo: Annotated[bool, typer.Option("--redo", help="Batch: analyse files again even if done.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result JSON to stdout.")] = False,
    max_rows: Annotated[int, typer.Option(help="Rows shown in the terminal table.")] = 40,
) -> None:
    """Analyse video, audio, text or wearable signals: emotions per segment from words, voice, face and body, fused.

    Runs locally; nothing is sent anywhere and nothing is written unless --out is given.
    """
    import emofuse
    from emofuse.analysis import AnalyzeConfig, check_formats

    settings = _parse_sets(overrides) | ({"fusion": fusion} if fusion else {})
    if not asr:
        settings["asr"] = False
    if fps is not None:
        settings["fps"] = fps
    if segmentation is not None:
        settings["segmentation"] = segmentation
    if fusion_model is not None:
        settings["fusion_model"] = str(fusion_model)
    if physio_offset is not None:
        settings["physio_offset_s"] = physio_offset
    if explain:
        settings["explain"] = True
    cfg = AnalyzeConfig.from_dict(settings)
    # unknown names and missing optional dependencies are refused before the (possibly long) analysis
    names = [f.strip() for f in formats.split(",") if f.strip()]
    fmts = [w.name for w in check_formats(None if names == ["all"] else names)]
    paths = list(inputs or [])
    if from_list is not None:
        if not from_list.is_file():
            raise MissingFileError(f"--from-list file not found: {from_list}")
        paths += [Path(line.strip()) for line in from_list.read_text(encoding="utf-8").splitlines()
                  if line.strip() and not line.lstrip().startswith("#")]
    if demo:
        from emofuse.demo import demo_path

        paths = [demo_path("demo.mp4")]
        out = out or Path("runs/demo")
    texts = gather_texts(text, text_file, encoding)
    if paths and texts is not None:
        raise ConfigError("--text analyses a text on its own; to give the words spoken in a media file, pass them "
                          "as a transcript: emofuse analyze FILE --transcript words.txt")
    if not paths and texts is None:
        raise ConfigError("give one of: input files/folders, --text, --text-file, or --demo")
    if texts is not None and len(texts) > 1:
        run_texts(texts, cfg, out, fmts, json_out, console=console, err_console=err_console)
        return
    if texts is not None:
        result = emofuse.analyze(text=texts[0], config=cfg)
    elif len(paths) == 1 and not paths[0].is_dir() and not (transcript is not None and transcript.is_dir()):
        result = emofuse.analyze(paths[0], transcript=transcript, transcript_encoding=encoding, config=cfg,
                                 progress=err_console.is_terminal, signals=physio)
    else:
        if physio is not None:
            raise ConfigError("--physio goes with one input file (its signals); batch mode takes none")
        if transcript is not None and not transcript.is_dir():
            raise ConfigError("in batch mode --transcript names a folder of transcripts named after the inputs "
                              f"(clip.mp4 -> clip.srt); {transcript} is not a folder")
        if out is None:
            raise ConfigError("batch mode writes one folder per input: give --out DIR")
        run_batch(paths, out, cfg, fmts, redo, console=console, err_console=err_console, transcripts=transcript,
                  encoding=encoding)
        return
    show_result(result, out, fmts, json_out, max_rows, console=console, err_console=err_console)


def main() -> None:
    """Entry point for ``python -m emofuse``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
