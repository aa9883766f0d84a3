"""Commands of the baseline stage: `features` and `baseline acn|umt|report`.

Only typer and the standard library are imported here; torch and transformers load inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from cmner_build.baselines.settings import DEFAULT_BERT, DEFAULT_ENCODER

from .common import open_ws, print_json

baseline_app = typer.Typer(
    help="Train and compare the ACN and UMT baselines on an exported corpus.", no_args_is_help=True
)

IMAGES_HELP = "none: text only; one: one image per post, drawn with the seed; all: the post's grids averaged region by region."
DEVICE_HELP = "auto (a CUDA GPU when there is one), cpu or cuda."

# Options both baselines take.
ImagesOption = Annotated[str, typer.Option("--images", help=IMAGES_HELP)]
EpochsOption = Annotated[Optional[int], typer.Option("--epochs", min=1, help="Training epochs (default 24).")]
SeedOption = Annotated[Optional[int], typer.Option("--seed", help="Random seed (default: corpus.seed in cmner.toml).")]
DeviceOption = Annotated[Optional[str], typer.Option("--device", help=DEVICE_HELP)]
ExportOption = Annotated[Optional[Path], typer.Option("--export", help="Export folder (default <workspace>/exports/cmner).")]
EncoderOption = Annotated[Optional[str], typer.Option("--encoder", help="Which image feature cache to use (see `features`).")]
AlsoTrainOption = Annotated[Optional[List[Path]], typer.Option(
    "--also-train", help="Another export whose train split is added untranslated, in one training run (none of "
    "the paper's settings; see --pretrain); repeatable.")]
PretrainOption = Annotated[Optional[str], typer.Option(
    "--pretrain", help="Two stages, as in the paper's cross-lingual tables: pre-train on SRC (--source), TGT "
    "(--translated) or SRC+TGT, then fine-tune on --export (train), select on its dev, score its test.")]
SourceOption = Annotated[Optional[Path], typer.Option("--source", help="The source-language export (for SRC).")]
TranslatedOption = Annotated[Optional[Path], typer.Option(
    "--translated", help="The source export translated into the target language by `cmner-build translate` (for TGT).")]
PretrainEpochsOption = Annotated[Optional[int], typer.Option(
    "--pretrain-epochs", min=1, help="Epochs of the pre-training stage (default: --epochs).")]
InitFromOption = Annotated[Optional[str], typer.Option(
    "--init-from", help="Start from a saved run's weights (id, id prefix or folder); vocabularies and labels are merged.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Also print the summary as JSON on stdout.")]
ThreadsOption = Annotated[Optional[int], typer.Option("--threads", min=1, help="CPU threads (default: the idle cores).")]
GoldSoFarOption = Annotated[bool, typer.Option(
    "--gold-so-far", help="Train on the workspace's gold as it is now (exported to exports/gold-so-far, splits "
    "kept) and record the gold size; `annotate status` shows dev F1 against it.")]


def register(app: typer.Typer) -> None:
    app.command(
        "features", epilog=f"Example: cmner-build -w my-corpus features --encoder {DEFAULT_ENCODER} --device auto"
    )(features)
    app.add_typer(baseline_app, name="baseline")
    baseline_app.command("acn", epilog="Example: cmner-build -w my-corpus baseline acn --images all --epochs 24\n\n"
                         "Cross-lingual: cmner-build -w my-corpus baseline acn --pretrain SRC+TGT --source twitter2015/ "
                         "--translated exports/twitter2015-zh --embeddings wiki.multi.en-zh.vec")(acn)
    baseline_app.command(
        "umt", epilog=f"Example: cmner-build -w my-corpus baseline umt --images all --bert {DEFAULT_BERT}"
    )(umt)
    baseline_app.command(
        "report", epilog="Example: cmner-build -w my-corpus baseline report --errors RUN_TEXT RUN_IMAGES"
    )(report)
    app.command("predict", epilog="Example: cmner-build -w my-corpus predict 20260101-120000-acn-none-s42-ab12 "
                "--posts ready   (then: cmner-build annotate push --suggest RUN)")(predict)


def features(
    ctx: typer.Context,
    encoder: Optional[str] = typer.Option(
        None, "--encoder", help=f"Image encoder: hub name or local folder (default: baselines.encoder, {DEFAULT_ENCODER})."
    ),
    device: Optional[str] = typer.Option(None, "--device", help=DEVICE_HELP),
    batch_size: int = typer.Option(32, "--batch-size", min=1, help="Images per forward pass."),
    export: Optional[Path] = typer.Option(
        None, "--export", help="Extract the images of this export folder (DIR/images) instead of the workspace's kept images."
    ),
    as_json: JsonOption = False,
) -> None:
    """Extract the 7x7 region grid of every kept image once (frozen encoder, cached, resumable)."""
    from cmner_build.baselines.entry import workspace_features

    from ..console import progress_task, warn

    workspace = open_ws(ctx, create=export is not None)
    outcome = workspace_features(workspace, encoder=encoder, device=device, batch_size=batch_size, export=export,
                                 progress=progress_task)
    summary = outcome.summary
    if outcome.missing:
        warn(f"{len(outcome.missing)} kept images are not in {workspace.images_dir} (e.g. {outcome.missing[0]}); "
             "skipped")
    for failure in outcome.failed[:10]:
        warn(f"could not read image {failure}")
    if as_json:
        print_json(summary)
    else:
        from ..console import info

        info(f"{summary['extracted']} grids extracted, {summary['already_cached']} already cached, "
             f"{summary['failed']} unreadable; cache: {summary['cache_dir']}")


def _train(ctx: typer.Context, model: str, as_json: bool, **values) -> None:
    from cmner_build.baselines.entry import train_baseline

    from ..console import info, progress_task

    outcome = train_baseline(open_ws(ctx, create=True), model, progress=progress_task, log=info, **values)
    _print_table_2([_outcome_row(outcome, model, values["images"])])
    if as_json:
        print_json({
            "run_id": outcome.run_id, "run_dir": str(outcome.run_dir), "best_epoch": outcome.best_epoch,
            "evaluated_split": outcome.evaluated_split, "metrics": outcome.metrics,
            "posts_without_image": outcome.posts_without_image,
        })
    else:
        info(f"run saved in {outcome.run_dir}")


def _outcome_row(outcome, model: str, images: str) -> dict:
    scores = outcome.metrics[outcome.evaluated_split]
    return {"run": outcome.run_id, "model": model.upper(), "images": images, "epoch": outcome.best_epoch,
            "split": outcome.evaluated_split, "P": scores["precision"], "R": scores["recall"], "F1": scores["f1"],
            **scores["per_type"]}


def _print_table_2(rows: list[dict], *, to_stdout: bool = False) -> None:
    
    from cmner_build.model import LABELS

    from ..console import DataTable, err, out

    table = DataTable(title="Baselines (P / R / F1 overall, F1 per type; % on the split shown)")
    columns = ["run", "model", "images", "epoch", "split", "P", "R", "F1", *LABELS]
    for column in columns:
        table.add_column(column, no_wrap=True,
                         justify="left" if column in ("run", "model", "images", "split") else "right")
    for row in rows:
        table.add_row(*[f"{row[c]:.2f}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in columns])
    console = _wide(out if to_stdout else err)
    console.print(table)
    if any(row["split"] == "dev" for row in rows):
        console.print("split 'dev': the export has no test split, so dev (also used to pick the epoch) is shown")


def _print_crosslingual(rows: list[dict]) -> None:
    from ..console import DataTable, out

    def number(value) -> str:
        return "" if value is None else f"{value:.2f}"

    console = _wide(out)
    for direction in dict.fromkeys(row["direction"] for row in rows):
        table = DataTable(title=f"Cross-lingual transfer {direction} (P / R / F1 %; paper: the CMNER paper's table)")
        for column in ("model", "pre-train", "run", "images", "split", "P", "R", "F1", "paper P", "paper R", "paper F1"):
            table.add_column(column, no_wrap=True, justify="right" if column[-1] in "PRF1" else "left")
        for row in (r for r in rows if r["direction"] == direction):
            table.add_row(row["model"], row["pretrain"], row["run"] or "", row["images"] or "", row["split"] or "",
                          number(row["P"]), number(row["R"]), number(row["F1"]),
                          number(row["paper_P"]), number(row["paper_R"]), number(row["paper_F1"]))
        console.print(table)


def _wide(console):
    """A terminal keeps its width; a pipe or file gets wide lines instead of rich's 80-column default."""
    from rich.console import Console

    if console.is_terminal:
        return console
    return Console(file=console.file, width=200, highlight=False, stderr=console.stderr)


def acn(
    ctx: typer.Context,
    images: ImagesOption = "none",
    epochs: EpochsOption = None,
    seed: SeedOption = None,
    device: DeviceOption = None,
    export: ExportOption = None,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Posts per step (default 16)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Adam learning rate (default 1e-3)."),
    encoder: EncoderOption = None,
    also_train: AlsoTrainOption = None,
    pretrain: PretrainOption = None,
    source: SourceOption = None,
    translated: TranslatedOption = None,
    pretrain_epochs: PretrainEpochsOption = None,
    init_from: InitFromOption = None,
    embeddings: Optional[Path] = typer.Option(
        None, "--embeddings", help="Pretrained token vectors, word2vec/fastText text format (e.g. wiki.zh.vec, or "
        "MUSE aligned vectors such as wiki.multi.zh.vec for cross-lingual runs)."
    ),
    freeze_embeddings: bool = typer.Option(False, "--freeze-embeddings", help="Keep the token embeddings fixed (the paper's choice)."),
    bigrams: bool = typer.Option(False, "--bigrams", help="Add character-bigram embeddings."),
    attention: str = typer.Option(
        "additive", "--attention", help="additive (fixed) or concat (the reference code's form, query-independent)."
    ),
    embedding_dim: int = typer.Option(100, "--embedding-dim", min=1, help="Size of random token embeddings."),
    hidden: int = typer.Option(200, "--hidden", min=1, help="BiLSTM units per direction."),
    dropout: Optional[float] = typer.Option(
        None, "--dropout", min=0.0, max=0.95,
        help="Dropout on the embeddings and the BiLSTM output (default 0.5; 0.6 with --bigrams).",
    ),
    threads: ThreadsOption = None,
    gold_so_far: GoldSoFarOption = False,
    as_json: JsonOption = False,
) -> None:
    """Train ACN (character embeddings, BiLSTM, adaptive co-attention, gates, CRF) and evaluate it."""
    _train(ctx, "acn", as_json, gold_so_far=gold_so_far, images=images, epochs=epochs, seed=seed, device=device, export=export, batch_size=batch_size,
           lr=lr, encoder=encoder, also_train=also_train, embeddings=embeddings, freeze_embeddings=freeze_embeddings,
           bigrams=bigrams, attention=attention, embedding_dim=embedding_dim, hidden=hidden, dropout=dropout,
           threads=threads, pretrain=pretrain, source=source, translated=translated, pretrain_epochs=pretrain_epochs,
           init_from=init_from)


def umt(
    ctx: typer.Context,
    images: ImagesOption = "none",
    bert: Optional[str] = typer.Option(
        None, "--bert", help=f"BERT hub name or local folder (default: baselines.bert, {DEFAULT_BERT})."
    ),
    epochs: EpochsOption = None,
    seed: SeedOption = None,
    device: DeviceOption = None,
    export: ExportOption = None,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Posts per step (default 32)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="AdamW learning rate (default 5e-5)."),
    encoder: EncoderOption = None,
    also_train: AlsoTrainOption = None,
    pretrain: PretrainOption = None,
    source: SourceOption = None,
    translated: TranslatedOption = None,
    pretrain_epochs: PretrainEpochsOption = None,
    init_from: InitFromOption = None,
    freeze_layers: int = typer.Option(
        0, "--freeze-layers", min=0, help="Freeze BERT's embeddings and bottom K layers (the paper's cross-lingual runs: 3)."
    ),
    lowercase: bool = typer.Option(
        True, "--lowercase/--keep-case",
        help="Lower-case upper-case Latin letters before tokenizing (bert-base-chinese maps them to [UNK]); "
        "--keep-case is the published behaviour.",
    ),
    threads: ThreadsOption = None,
    gold_so_far: GoldSoFarOption = False,
    as_json: JsonOption = False,
) -> None:
    """Train UMT (BERT, cross-modal transformer, visual gate, entity-span head, CRF) and evaluate it."""
    _train(ctx, "umt", as_json, gold_so_far=gold_so_far, images=images, bert=bert, epochs=epochs, seed=seed, device=device, export=export,
           batch_size=batch_size, lr=lr, encoder=encoder, also_train=also_train, lowercase=lowercase, threads=threads,
           pretrain=pretrain, source=source, translated=translated, pretrain_epochs=pretrain_epochs,
           init_from=init_from, freeze_layers=freeze_layers)


def report(
    ctx: typer.Context,
    runs: Optional[List[str]] = typer.Argument(None, help="Runs for --errors (ids, id prefixes or folders)."),
    errors: bool = typer.Option(False, "--errors", help="Count each run's errors by kind and show where the image changed the outcome."),
    crosslingual: bool = typer.Option(
        False, "--crosslingual", help="The runs in the layout of the paper's cross-lingual Tables 3-4, beside its figures."
    ),
    limit: int = typer.Option(10, "--limit", min=0, help="Posts shown per text-only / multimodal pair."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Print a table of all runs side by side, or (--errors RUN...) their error analysis."""
    from cmner_build.baselines.runs import list_runs, report_rows

    from ..console import info
    from ..errors import CmnerError

    workspace = open_ws(ctx)
    if crosslingual:
        from cmner_build.baselines.crosslingual import crosslingual_rows

        rows = crosslingual_rows(list_runs(workspace.runs_dir))
        if as_json:
            print_json(rows)
        else:
            _print_crosslingual(rows)
        return
    if not errors:
        if runs:
            raise CmnerError("run names are only taken with --errors; `baseline report` alone lists every run")
        rows = report_rows(list_runs(workspace.runs_dir))
        if as_json:
            print_json(rows)
        elif not rows:
            info(f"no finished runs in {workspace.runs_dir}; train one with `cmner-build baseline acn`")
        else:
            _print_table_2(rows, to_stdout=True)
        return
    if not runs:
        raise CmnerError("--errors needs one or more runs, e.g. `baseline report --errors RUN_TEXT RUN_IMAGES`")
    _error_report(workspace.runs_dir, runs, limit, as_json)


def _error_report(runs_dir: Path, names: List[str], limit: int, as_json: bool) -> None:
    from cmner_build.baselines.entry import error_report
    from cmner_build.baselines.errors_analysis import ERROR_KINDS, render

    from ..console import DataTable, out, plain

    out = _wide(out)
    analysis = error_report(runs_dir, names)
    counts, comparisons = analysis["errors"], analysis["comparisons"]
    if as_json:
        for comparison in comparisons:
            comparison["posts"] = comparison["posts"][:limit]
        print_json({"errors": counts, "comparisons": comparisons})
        return
    table = DataTable(title="Errors by kind (entities)")
    for column in ["run", "split", "gold", "predicted", "correct", *ERROR_KINDS]:
        table.add_column(column.replace("_", " "), justify="left" if column in ("run", "split") else "right")
    for row in counts:
        table.add_row(*[str(row[c]) for c in ["run", "split", "gold", "predicted", "correct", *ERROR_KINDS]])
    out.print(table)
    if not comparisons:
        out.print("(give a text-only run and a multimodal run to see the posts where the image changed the outcome)")
    for comparison in comparisons:
        out.rule(plain(f"image changed the outcome: {comparison['text_run']} (text) vs {comparison['image_run']} "
                       f"(image): helped {comparison['helped']}, hurt {comparison['hurt']}"))
        joiner = comparison["joiner"]
        for post in comparison["posts"][:limit]:
            out.print(f"{post['post_id']} ({post['split']}, image {post['effect']}: "
                      f"{post['text_errors']} -> {post['image_errors']} errors)", markup=False)
            out.print(f"  gold        {render(post['tokens'], post['gold'], joiner)}", markup=False)
            out.print(f"  text-only   {render(post['tokens'], post['text'], joiner)}", markup=False)
            out.print(f"  multimodal  {render(post['tokens'], post['image'], joiner)}", markup=False)


def predict(
    ctx: typer.Context,
    run: str = typer.Argument(..., help="A finished run: id, unique id prefix or folder (see `baseline report`)."),
    posts: str = typer.Option("ready", "--posts", help="ready, gold or all (ready, annotating, annotated, gold)."),
    from_file: Optional[Path] = typer.Option(
        None, "--from", help="Label the posts of this file instead: a CMNER / Twitter-2015 release file or JSONL "
        "(post_id, text or tokens, optional images)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="JSONL output (default: RUN/suggestions-POSTS.jsonl)."),
    device: DeviceOption = None,
    threads: ThreadsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Label posts with a trained run: spans in code points with a confidence each (CRF marginals), as JSONL
    and into the store as the run's suggestions for `annotate push --suggest` / `--order uncertainty`."""
    from cmner_build.baselines.entry import predict_with_run

    from ..console import info, progress_task

    report = predict_with_run(open_ws(ctx), run, posts=posts, from_file=from_file, out=out, device=device,
                              threads=threads, progress=progress_task)
    if as_json:
        print_json({"run_id": report.run_id, "posts": report.posts, "spans": report.spans, "stored": report.stored,
                    "out": str(report.out), "scores": report.scores, "run_metrics": report.run_metrics,
                    "least_sure": report.least_sure})
        return
    info(f"{report.posts} posts labelled with {report.spans} spans -> {report.out}; "
         f"{report.stored} stored as suggestions of run {report.run_id}")
    for split, scores in report.scores.items():
        recorded = (report.run_metrics.get(split) or {}).get("f1")
        same = f" (the run recorded {recorded:.2f})" if recorded is not None else ""
        info(f"{split}: P {scores['precision']:.2f} R {scores['recall']:.2f} F1 {scores['f1']:.2f}{same}")
