"""The ``sparsenet`` command line."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from . import classify, pipeline
from .common import UserError, check_masks_output, check_output_folder, flag, friendly
from sparsenet.atomic import write_atomically, write_json
from sparsenet.masks import store

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Sparse neural networks from genome-scale metabolic models (DeepMetabolism).",
)


def _version(value: bool):
    if value:
        from sparsenet import __version__

        typer.echo(f"sparsenet {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, metavar="", help="print the version and exit"
    ),
):
    """Sparse neural networks from genome-scale metabolic models (DeepMetabolism)."""


masks_app = typer.Typer(
    no_args_is_help=True, help="Connection masks: from a COBRA model, an edge list or a pathway hierarchy."
)
app.add_typer(masks_app, name="masks")
data_app = typer.Typer(no_args_is_help=True, help="Data preparation (paired-data synthesis).")
app.add_typer(data_app, name="data")


@app.command()
@friendly
def bench(
    dense_vs_sparse: bool = typer.Option(True, "--dense-vs-sparse", help="Time sparse (C) against dense (A)."),
    device: str = typer.Option("auto", help="cpu, gpu or auto"),
    batch: int = typer.Option(5000, min=1),
    repeats: int = typer.Option(20, min=1, help="timed steps (dense: a quarter, at least 3)"),
    mask_file: Path | None = typer.Option(
        None,
        "--mask",
        help="masks .h5 (default: shipped iJO1366 masks); 'random': the paper's size, 16,135 random links",
    ),
    json_out: Path | None = typer.Option(None, "--json", help="write the results here"),
):
    """Time one training step (forward + backward + Adam) of the DeepMetabolism autoencoder."""
    from sparsenet import benchmark

    from sparsenet.masks import store

    mask, source = None, None  # None: the paper-sized random mask
    if str(mask_file) != "random":
        path = mask_file or store.shipped_mask_path("iJO1366")
        if not Path(path).exists():
            raise UserError(f"{path}: no such masks file (or pass --mask random)")
        masks = store.read_masks(path)
        mask, source = masks.protein_phenotype, f"{Path(path).name} ({masks.protein_phenotype.nnz} links)"
    result = benchmark.dense_vs_sparse(device=device, batch=batch, repeats=repeats, mask=mask, mask_source=source)
    typer.echo(benchmark.format_table(result))
    if result["backend"] == "gpu":  # each kernel's bytes and achieved bandwidth
        if mask is None:
            mask = benchmark.random_phenotype_mask()
        result["kernel_profile"] = benchmark.kernel_profile(mask, batch=batch, repeats=repeats)
        typer.echo(benchmark.format_kernel_profile(result["kernel_profile"]))
    if json_out:
        write_json(json_out, result)
        typer.echo(f"wrote {json_out}")


@masks_app.command("build")
@friendly
def masks_build(
    model: str = typer.Argument(..., help="SBML (.xml/.xml.gz), JSON or MAT file, or iJO1366 / e_coli_core"),
    out: Path = typer.Option(..., "-o", "--out", help="masks file to write (.h5)"),
    uptake: str = typer.Option("EX_glc__D_e", help="uptake reaction whose flux is fixed"),
    uptake_flux: float = typer.Option(-10.0, help="fixed uptake flux, mmol/gDW/h (the reference code used -100)"),
    threshold: float = typer.Option(0.95, help="essential if |v_KO| <= threshold * |v_orig|"),
    zero_tol: float = typer.Option(1e-9, help="|flux| below this is zero"),
    keep_zero_optimum: bool = flag("--keep-zero-optimum", help="keep zero-optimum and fragile phenotypes"),
    exhaustive: bool = flag("--exhaustive", help="knock out every reaction (slow; the pruned screen is exact)"),
    level: str = typer.Option(
        "genes",
        "--level",
        help="genes: a phenotype's node links the genes of its "
        "essential reactions (the paper's); reactions: gene -> "
        "reaction (gene-protein "
        "rules) -> phenotype, one middle node per essential reaction",
    ),
    processes: int = typer.Option(0, help="worker processes (0: one per core)"),
    json_out: Path | None = typer.Option(None, "--json", help="write a summary here"),
):
    """Derive the gene->protein and protein->phenotype masks of a COBRA model (FBA knockout screen)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from sparsenet.config.run_config import check_choice
    from sparsenet.masks.build import build_masks
    from sparsenet.masks.model_io import load_model
    from sparsenet.masks.screen import ScreenSettings
    from sparsenet.masks.store import write_masks

    settings = ScreenSettings(
        uptake=uptake,
        uptake_flux=uptake_flux,
        threshold=threshold,
        zero_tol=zero_tol,
        exhaustive=exhaustive,
        keep_zero_optimum=keep_zero_optimum,
    )  # refuses a bad threshold
    check_choice("level", level)
    check_masks_output(out)  # before the screen, not after a minute of it
    cobra_model, path, digest = load_model(model)
    with Progress(
        TextColumn("screening phenotypes"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
        disable=not sys.stderr.isatty(),
    ) as bar:
        task = bar.add_task("screen", total=None)
        masks = build_masks(
            cobra_model,
            settings,
            model_file=model,
            model_sha256=digest,
            processes=processes or None,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            level=level,
        )
    write_atomically(out, lambda p: write_masks(p, masks))
    summary = masks.summary()
    typer.echo(
        f"{out}: {summary['genes']} genes, {summary['phenotypes']} phenotypes "
        f"({summary['phenotypes_zero_optimum']} zero-optimum and {summary['phenotypes_fragile']} fragile "
        f"of {summary['phenotypes_screened']} dropped{' except kept' if keep_zero_optimum else ''}), "
        f"{summary['protein_phenotype_links']} "
        f"{'reaction' if level == 'reactions' else 'protein'}->phenotype links"
        + (
            f" over {summary['proteins']} reactions ({summary['gene_protein_links']} gene->reaction links)"
            if level == "reactions"
            else ""
        )
        + f", {summary['seconds']} s"
    )
    if json_out:
        write_json(json_out, summary)


@masks_app.command("from-edges")
@friendly
def masks_from_edges(
    edges: Path = typer.Argument(..., help="edge list (CSV, or TSV by its .tsv/.txt suffix) with a header row"),
    source: str = typer.Option(..., help="column of the input layer's IDs (genes, matched to the expression by ID)"),
    target: str = typer.Option(..., help="column of the next layer's nodes (regulators, pathways, iModulons)"),
    allow_self_loops: bool = flag("--allow-self-loops", help="accept rows whose two ends carry the same ID"),
    out: Path = typer.Option(..., "-o", "--out", help="masks file to write (.h5)"),
):
    """Masks from any bipartite network: one node per --target ID, linked to its --source IDs."""
    from sparsenet.masks.edges import masks_from_edges as build
    from sparsenet.masks.store import write_masks

    check_masks_output(out)
    masks = build(edges, source, target, allow_self_loops)
    write_atomically(out, lambda p: write_masks(p, masks))
    s = masks.summary()
    typer.echo(
        f"{out}: {s['genes']} inputs ({source}), {s['phenotypes']} nodes ({target}), "
        f"{s['protein_phenotype_links']} links"
    )


@masks_app.command("subsystems")
@friendly
def masks_subsystems(
    model: str = typer.Argument("iJO1366", help="SBML (.xml/.xml.gz), JSON or MAT file, or iJO1366 / e_coli_core"),
    min_genes: int = typer.Option(2, help="drop subsystems with fewer genes than this"),
    out: Path = typer.Option(..., "-o", "--out", help="masks file to write (.h5)"),
):
    """Masks from the model's subsystems: one node per pathway, linked to the genes of its reactions."""
    from sparsenet.masks.model_io import load_model
    from sparsenet.masks.store import write_masks
    from sparsenet.masks.subsystems import subsystem_masks

    check_masks_output(out)
    cobra_model, path, digest = load_model(model)
    masks = subsystem_masks(cobra_model, model_file=model, model_sha256=digest, min_genes=min_genes)
    write_atomically(out, lambda p: write_masks(p, masks))
    s = masks.summary()
    typer.echo(
        f"{out}: {s['genes']} genes, {s['phenotypes']} subsystems, {s['protein_phenotype_links']} links "
        f"({masks.attrs['subsystems_too_small']} subsystems with fewer than {min_genes} genes dropped)"
    )


@masks_app.command("hierarchy")
@friendly
def masks_hierarchy(
    source: str = typer.Argument(
        ...,
        help="reactome (fetched once from the binn 0.1.1 wheel), "
        "iJO1366 / e_coli_core or a model file (genes -> reactions -> "
        "subsystems), or a feature -> pathway file (CSV/TSV: feature, "
        "pathway[, ..., name]; or a .gmt gene-set file)",
    ),
    data: Path = typer.Option(
        ...,
        "--data",
        help="the data table the network will read: features "
        "as rows with their IDs in the first column (as BINN's "
        "sample_datamatrix.csv), or see --samples-as-rows",
    ),
    samples_as_rows: bool = flag(
        "--samples-as-rows", help="the data table has samples as rows and the feature IDs in its header row"
    ),
    levels: int = typer.Option(
        4, min=1, help="pathway levels (the top one holds the roots); a model source always has 2"
    ),
    relations: Path | None = typer.Option(
        None, "--relations", help="parent -> child pathway table, for a feature -> pathway file"
    ),
    names: Path | None = typer.Option(None, "--names", help="pathway ID -> name table"),
    species: str | None = typer.Option(
        None,
        help="keep pathways whose ID starts R-<code>- (a "
        "Reactome species code: HSA human, MMU mouse ...); "
        "reactome: HSA unless given, 'all' keeps every species",
    ),
    id_type: str = typer.Option("uniprot", help="what the data's feature IDs are (reactome: uniprot)"),
    columns: str | None = typer.Option(
        None,
        "--columns",
        help="FEATURE,PATHWAY: the header's "
        "names of the feature and pathway columns of a feature -> "
        "pathway table (default: its first two columns)",
    ),
    out: Path = typer.Option(..., "-o", "--out", help="hierarchy file to write (.h5)"),
):
    """Build an N-level network's masks from a pathway hierarchy, over the features of a data table."""
    from sparsenet.masks import hierarchy as hmod
    from sparsenet.masks.model_io import SHIPPED

    check_masks_output(out)
    features = hmod.feature_ids_of_table(data, samples_as_rows)
    if source.lower() == "reactome":
        from sparsenet.masks.reactome import reactome_hierarchy

        h = reactome_hierarchy(
            features, levels, None if species == "all" else (species or "HSA"), id_type, progress=typer.echo
        )
    elif (
        source in SHIPPED
        or source.lower() == "ijo1366"
        or source.lower().endswith((".xml", ".xml.gz", ".sbml", ".json", ".json.gz", ".mat"))
    ):
        from sparsenet.masks.model_io import load_model
        from sparsenet.masks.subsystems import subsystem_hierarchy

        cobra_model, _, digest = load_model("iJO1366" if source.lower() == "ijo1366" else source)
        h = subsystem_hierarchy(cobra_model, features, model_file=source)
        h.attrs["model_sha256"] = digest
    else:
        pair = None
        if columns:
            pair = [c.strip() for c in columns.split(",")]
            if len(pair) != 2 or not all(pair):
                raise UserError(f"--columns {columns!r}: give two column names, FEATURE,PATHWAY")
        h = hmod.hierarchy_from_files(
            source,
            features,
            levels,
            relations,
            names,
            species=None if species in (None, "all") else species,
            columns=pair,
        )
    write_atomically(out, lambda p: hmod.write_hierarchy(p, h))
    typer.echo(hierarchy_table(h, out))


def hierarchy_table(h, path) -> str:
    """What masks hierarchy and masks show print of a hierarchy: features, then each level's size and density."""
    lines = [
        f"{path}: {h.attrs.get('features_linked', '?')} of {len(h.feature_ids)} features linked, {h.n_levels} levels",
        f"  {'level':>5}  {'nodes':>6}  {'inputs':>6}  {'links':>6}  {'density':>8}  {'copies':>6}",
    ]
    for r in h.summary():
        lines.append(
            f"  {r['level']:5d}  {r['nodes']:6d}  {r['inputs']:6d}  {r['links']:6d}  {r['density']:8.4f}  "
            f"{r['copies']:6d}"
        )
    lines.append("provenance: " + "; ".join(f"{k} {v}" for k, v in h.attrs.items() if k != "format"))
    return "\n".join(lines)


@masks_app.command("show")
@friendly
def masks_show(
    masks_file: Path | None = typer.Argument(
        None, metavar="[MASKS]", help="masks file (default: the shipped iJO1366 masks)"
    ),
    find: str | None = typer.Option(
        None,
        "--find",
        help="only phenotypes and genes whose ID or name "
        "contains this text (case-insensitive; 'growth' also finds the "
        "biomass reactions)",
    ),
    gene_table: Path | None = typer.Option(
        None, "--gene-table", help="write every gene's ID and symbol (the names --gene-ids maps) to this CSV"
    ),
    json_out: Path | None = typer.Option(None, "--json", help="also write everything shown as JSON"),
):
    """List a masks file's phenotypes (ID, name, linked genes) and genes (ID, name, phenotypes), with its counts
    and provenance: the IDs and names --map, --phenotype and links.csv use."""
    from sparsenet.data.masks_listing import masks_listing

    path = masks_file or store.shipped_mask_path("iJO1366")
    from sparsenet.masks.hierarchy import is_hierarchy_file, read_hierarchy

    if is_hierarchy_file(path):
        typer.echo(hierarchy_table(read_hierarchy(path), path))
        return
    if gene_table is not None:
        check_output_folder(gene_table)
    listing = masks_listing(store.read_masks(path), find)
    s, phenotypes, genes = listing["summary"], listing["phenotypes"], listing["genes"]
    typer.echo(
        f"{path}: {s['genes']} genes ({s['genes'] - s['genes_linked_to_no_phenotype']} linked to a phenotype), "
        f"{s['phenotypes']} phenotypes, {s['protein_phenotype_links']} protein->phenotype links"
    )
    typer.echo("provenance: " + "; ".join(f"{k} {v}" for k, v in listing["provenance"].items()))
    typer.echo(f"\nphenotypes{f' matching {find!r}' if find else ''} ({len(phenotypes)}): ID, linked genes, name")
    width = max([len(p["id"]) for p in phenotypes] + [2])
    for p in phenotypes:
        typer.echo(f"  {p['id']:{width}}  {p['linked_genes']:5d}  {p['name'] if p['name'] != p['id'] else ''}")
    typer.echo(f"\ngenes{f' matching {find!r}' if find else ''} ({len(genes)}): ID, name, phenotypes linked")
    for g in genes:
        typer.echo(f"  {g['id']:12} {g['name'] or '-':10} {g['phenotypes']:4d}")
    if not listing["named"]:
        typer.echo("(no gene names in this file: add them with sparsenet masks names)")
    if gene_table is not None:
        write_atomically(gene_table, lambda p: Path(p).write_text(listing["gene_table_csv"]))
        typer.echo(f"wrote {gene_table}: ID and symbol of all {s['genes']} genes")
    if json_out:
        write_json(
            json_out,
            {
                "file": str(path),
                "summary": s,
                "provenance": listing["provenance"],
                "phenotypes": phenotypes,
                "genes": genes,
            },
        )


@masks_app.command("names")
@friendly
def masks_names(
    masks_file: Path = typer.Argument(..., metavar="MASKS", help="masks file to add gene names to"),
    table: Path = typer.Option(
        ...,
        "--table",
        help="CSV/TSV of gene ID -> name with a header (PRECISE's "
        "gene_table.csv: sparsenet data precise prints where it is)",
    ),
    id_column: str | None = typer.Option(None, "--id-column", help="column of gene IDs (default: the first)"),
    name_column: str = typer.Option("gene_name", "--name-column", help="column of gene names"),
    out: Path = typer.Option(..., "-o", "--out", help="masks file to write (.h5; may be MASKS itself)"),
):
    """Add gene names to a masks file (the wiring and its fingerprint stay as they are)."""
    from sparsenet.data.gene_name_table import names_from_table, with_gene_names
    from sparsenet.masks.store import read_masks, write_masks

    check_masks_output(out)
    masks = with_gene_names(read_masks(masks_file), names_from_table(table, id_column, name_column), str(table))
    write_atomically(out, lambda p: write_masks(p, masks))
    typer.echo(f"{out}: names for {masks.attrs['gene_names_found']} of {len(masks.gene_ids)} genes from {table.name}")


@masks_app.command("combine")
@friendly
def masks_combine(
    first: Path = typer.Argument(..., help="masks file (e.g. a metabolic model's)"),
    second: Path = typer.Argument(..., help="masks file (e.g. a regulatory network's)"),
    out: Path = typer.Option(..., "-o", "--out", help="masks file to write (.h5)"),
):
    """Two wirings as one: the genes of both, the nodes of both side by side, each node linked to its genes."""
    from sparsenet.masks.combine import combine
    from sparsenet.masks.store import read_masks, write_masks

    check_masks_output(out)
    masks = combine(read_masks(first), read_masks(second), (first.stem, second.stem))
    write_atomically(out, lambda p: write_masks(p, masks))
    s = masks.summary()
    typer.echo(f"{out}: {s['genes']} genes, {s['phenotypes']} nodes, {s['protein_phenotype_links']} links")


app.command("classify")(friendly(classify.classify))
app.command("train")(friendly(pipeline.train))
app.command("control")(friendly(pipeline.control))
app.command("curve")(friendly(pipeline.curve))
app.command("predict")(friendly(pipeline.predict))
app.command("rank")(friendly(pipeline.rank))
app.command("links")(friendly(pipeline.links))
app.command("report")(friendly(pipeline.report))
app.command("robustness")(friendly(pipeline.robustness))
data_app.command("spline")(friendly(pipeline.spline))
data_app.command("precise")(friendly(pipeline.precise_data))


def main():  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
