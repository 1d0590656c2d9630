"""``emofuse explain``: how much each signal contributed to a prediction, and why (registered in :mod:`emofuse.cli`).

Two forms:

* ``emofuse explain CHECKPOINT DATASET --index 3``: a trained zoo checkpoint on a feature
  dataset (any format ``emofuse evaluate`` reads): exact Shapley contributions of the
  modalities present in sample 3 (:func:`emofuse.explain.explain_dataset`);
* ``emofuse explain FILE --at 12.5``: analyses a media file (or reads a saved analysis,
  ``--result analysis.json`` or ``FILE`` itself ending in ``.json``: faster) and explains the
  fusion of the segment covering 12.5 s (:func:`emofuse.analysis.explain_segment`).

Both print a contributions table and the rationale, or JSON with ``--json``. Part of the command
line (layer 1): it uses only public names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from emofuse.errors import ConfigError, EmofuseError, MissingFileError

__all__ = ["COMMANDS", "explain_cmd"]

console = Console()
err_console = Console(stderr=True)


def explain_cmd(
    target: Annotated[Path | None, typer.Argument(help="A zoo checkpoint folder (with DATASET), or a media file / "
        "saved analysis.json (with --at).", show_default=False)] = None,
    data: Annotated[Path | None, typer.Argument(help="Checkpoint form: the feature dataset (file or folder).",
                                                show_default=False)] = None,
    index: Annotated[list[int] | None, typer.Option("--index", "-i", help="Checkpoint form: sample to explain "
        "(repeatable; default 0).")] = None,
    at: Annotated[float | None, typer.Option("--at", help="Media form: explain the segment covering this time "
        "(seconds).")] = None,
    result: Annotated[Path | None, typer.Option("--result", help="Media form: a saved analysis.json to read "
        "instead of analysing the media again.")] = None,
    transcript: Annotated[Path | None, typer.Option("--transcript", "-t", help="Media form: a transcript of FILE.")]
        = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", "-s", help="Media form: AnalyzeConfig key=value "
        "for the analysis.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Checkpoint form: dataset reader name, or auto.")] = "auto",
    split: Annotated[str | None, typer.Option(help="Checkpoint form: split inside multi-split files.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Explain a prediction: each signal's Shapley contribution and a rationale built from those numbers."""
    try:
        if at is not None or result is not None:
            out = _explain_media(target, at, result, transcript, overrides)
        else:
            out = _explain_checkpoint(target, data, index or [0], fmt, split)
    except EmofuseError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if json_out:
        print(json.dumps(out, indent=2, allow_nan=False))
        return
    for item in out if isinstance(out, list) else [out]:
        _print(item)


def _explain_checkpoint(target: Path | None, data: Path | None, indices: list[int], fmt: str,
                        split: str | None) -> list[dict[str, Any]]:
    import emofuse
    from emofuse import explain as ex  # the package's names (its ``rationale`` is also a module's name)

    if target is None or not (target / "model.safetensors").is_file():
        raise ConfigError("give a zoo checkpoint folder and a dataset (emofuse explain CHECKPOINT DATASET --index N), "
                          "or a media file or analysis.json with --at SECONDS")
    if data is None:
        raise ConfigError("emofuse explain CHECKPOINT needs the DATASET whose samples it explains")
    if not data.exists():
        raise MissingFileError(f"dataset not found: {data}")
    model = emofuse.load_model(target)
    kwargs = {"format": fmt, **({"split": split} if split else {})}
    ds = emofuse.load_dataset(data, **kwargs)
    contrib = ex.explain_dataset(model, ds, indices)
    classes = list(contrib.classes)
    out = []
    for k, i in enumerate(indices):
        exp = contrib.sample(k)
        item: dict[str, Any] = {"index": i, "id": contrib.ids[k] if contrib.ids else str(i),
                                "title": f"sample {i} ({contrib.ids[k] if contrib.ids else i})"}
        if contrib.task == "classification":
            item["true"] = classes[int(ds.targets[i % len(ds)])]
        out.append({**item, "contributions": exp, "rationale": ex.rationale(exp)})
    if getattr(model, "registry_name", None) in ex.models_with_attention():
        att = ex.attention_maps(model, ds.batch(indices))
        for k, item in enumerate(out):  # where each modality's steps looked in the others (JSON-ready)
            item["attention"] = {pair: [[round(float(v), 5) for v in row] for row in a[k]]
                                 for pair, a in att["maps"].items() if att["present"][pair.split("<-")[0]][k]
                                 and att["present"][pair.split("<-")[1]][k]}
    return out


def _explain_media(target: Path | None, at: float | None, result: Path | None, transcript: Path | None,
                   overrides: list[str] | None) -> dict[str, Any]:
    from emofuse.analysis import AnalysisResult, AnalyzeConfig, explain_segment, make_fuser, segment_at
    from emofuse.config import apply_overrides

    if at is None:
        raise ConfigError("give --at SECONDS: the time of the segment to explain")
    if result is None and target is not None and target.suffix.lower() == ".json":
        result = target
    if result is not None:
        if not result.is_file():
            raise MissingFileError(f"analysis result not found: {result}")
        res = AnalysisResult.read_json(result)
    elif target is None:
        raise ConfigError("give a media file (or --result analysis.json) to explain")
    else:
        import emofuse

        if not target.exists():
            raise MissingFileError(f"input not found: {target}")
        cfg = AnalyzeConfig.from_dict(apply_overrides({"explain": True}, overrides or []))  # with evidence
        res = emofuse.analyze(target, transcript=transcript, config=cfg)
    seg = segment_at(res.segments, at)
    fuser = make_fuser(AnalyzeConfig.from_dict(res.config))
    contrib, why = explain_segment(seg, fuser)
    out: dict[str, Any] = {"source": res.source, "at": at, "title": f"segment {seg.index}, "
                           f"{seg.start:.2f}–{seg.end:.2f} s" + (f": “{seg.text}”" if seg.text else ""),
                           "segment": {"index": seg.index, "start": seg.start, "end": seg.end, "text": seg.text,
                                       "label": seg.label, "confidence": seg.confidence},
                           "contributions": contrib, "rationale": why,
                           "evidence": {m: r.evidence for m, r in seg.modalities.items() if r.ok and r.evidence}}
    if seg.probs and any(abs(contrib["full"][c] - p) > 2e-3 for c, p in seg.probs.items()):
        out["warning"] = ("the fusion rebuilt from the saved settings differs from the saved one (other weights or "
                          "cards?): the contributions explain the fusion as it is now")
    return out


def _print(item: dict[str, Any]) -> None:
    exp = item["contributions"]
    t = exp["target"]
    head = f"{item['title']}: {t or 'no prediction'}"
    if t is not None:
        head += f" ({exp['full'][t]:.3f}; {exp['base'][t]:.3f} with no signal)"
    if "true" in item:
        head += f", true {item['true']}"
    table = Table(title=head, title_justify="left")
    for col, just in (("modality", "left"), ("own label", "left"), (f"contribution to {t}", "right"),
                      ("missing", "left")):
        table.add_column(col, justify=just, overflow="fold")
    evidence = item.get("evidence") or {}
    if evidence:
        table.add_column("evidence (own label)", overflow="fold")
    for m, d in exp["modalities"].items():
        table.add_row(m, str(d.get("label") or "—"), f"{d['contribution']:+.3f}", "",
                      *([_evidence_text(evidence.get(m))] if evidence else []))
    for m, why in exp["missing"].items():
        table.add_row(m, "—", "—", why, *([""] if evidence else []))
    console.print(table)
    for pair, rows in (item.get("attention") or {}).items():
        peaks = ", ".join(f"{i}→{max(range(len(r)), key=r.__getitem__)}" for i, r in enumerate(rows[:8]))
        console.print(f"attention {pair}: strongest source step per target step {peaks}", highlight=False)
    console.print(item["rationale"], highlight=False, soft_wrap=True)
    if item.get("warning"):
        err_console.print(f"[yellow]warning:[/] {item['warning']}", highlight=False, soft_wrap=True)


def _evidence_text(ev: dict[str, Any] | None) -> str:
    """One line of a modality's within-modality evidence (the words, the stretch, the frames)."""
    if not ev:
        return ""
    if ev.get("reason"):
        return str(ev["reason"])
    if ev.get("words") is not None:
        return "words: " + ", ".join(f"{w['word']} {w['score']:+.2f}" for w in
                                     sorted(ev["words"], key=lambda w: -w["score"])[:4])
    if ev.get("stretches") is not None and ev.get("top"):
        top = ev["top"]
        return f"strongest {top['start']:.1f}–{top['end']:.1f} s (silenced: −{top['drop']:.2f})"
    if ev.get("frames"):
        return "clearest frames: " + ", ".join(f"{f['t']:.1f} s ({f['prob']:.2f})" for f in ev["frames"])
    return ""


COMMANDS = {"explain": explain_cmd}
