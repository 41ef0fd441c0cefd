"""Expression matrices from CSV/TSV, HDF5 and AnnData .h5ad files, aligned to the model by gene ID.

An :class:`Expression` holds sample IDs, gene IDs and a samples x genes matrix: in memory for
text files, streamed row-chunk by row-chunk from HDF5 files (``take`` reads only the rows it
is asked for), so a compendium larger than memory can feed pre-training.

HDF5 layout (sparsenet's own): datasets ``expression`` (samples x genes), ``sample_ids``,
``gene_ids``. AnnData: ``X`` (dense, or a CSR group), ``obs``/``var`` groups whose ``_index``
attribute names the ID column; obs are samples, var names are gene IDs.
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ..allowed import one_of
from ..h5io import decode_strings

ORIENTATIONS = ("auto", "genes-by-samples", "samples-by-genes")
# Cell texts read as a missing value (compared after stripping spaces): empty, R's NA, NaN as
# pandas and Excel write it, and the lab's "not determined".
NA_VALUES = ("", "NA", "NaN", "nan", "n.d.")


TRANSFORMS = ("none", "log2p1")  # what is done to the values as read: nothing, or log2(x + 1) (TPM, counts)
LINEAR_P99 = 50.0  # log2 levels stay below ~25 (2^25 TPM is beyond a genome); linear TPM and counts do not


class DataError(ValueError):
    """Bad input data: the message names the file and what to fix."""


class DataWarning(UserWarning):
    """Data read with a change a user should know of (an encoding guessed, text columns left out)."""


def said_while(fn, *args, **kwargs) -> tuple:
    """(``fn(*args, **kwargs)``, the DataWarnings it gave, as sentences): what reading changed, for the data
    checks (printed with the others, stopped at by ``--strict``, kept in report.json); other warnings pass."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        out = fn(*args, **kwargs)
    said = []
    for w in caught:
        if issubclass(w.category, DataWarning):
            said.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out, said


def _sniff_delimiter(first_line: str, by_name: str) -> str:
    """The header's own separator whatever the file's name: tab or comma, whichever splits it more (the name's
    when neither does); ';' is then looked at by the caller."""
    tabs, commas = first_line.count("\t"), first_line.count(",")
    if tabs == commas:
        return by_name
    return "\t" if tabs > commas else ","


def _open_text(path: Path, encoding: str = "utf-8-sig"):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="", encoding=encoding)
    return open(path, newline="", encoding=encoding)


def _read_text(path: Path) -> str:
    """The file's text: UTF-8 (a BOM dropped), else Windows-1252 (what Excel saves on Windows; Latin-1 is its
    subset) with a DataWarning naming the encoding, so that a 'µ' in a header reads as one."""
    try:
        with _open_text(path) as fh:
            return fh.read()
    except UnicodeDecodeError:
        pass
    try:
        with _open_text(path, "cp1252") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise DataError(
            f"{path}: neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8 (Excel: Save As > 'CSV UTF-8')"
        ) from None
    import warnings

    warnings.warn(
        DataWarning(
            f"{path}: not UTF-8; read as Windows-1252 (Excel's encoding on Windows): check "
            "its special characters (µ, °) or save it as CSV UTF-8"
        ),
        stacklevel=3,
    )
    return text


def read_rows(path) -> list[list[str]]:
    """The non-blank rows of a comma- or tab-separated file, optionally gzipped: the separator is the header's
    own (a tab-separated file named .csv reads as one), the name's (.tsv/.txt/.tab: tab) where the header
    does not say; text that is not UTF-8 is read as Windows-1252 with a warning."""
    import io

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    stem = path.name[:-3] if path.suffix == ".gz" else path.name
    delimiter = "\t" if stem.endswith((".tsv", ".txt", ".tab")) else ","
    try:
        text = _read_text(path)
        delimiter = _sniff_delimiter(text.split("\n", 1)[0], delimiter)
        rows = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if any(c.strip() for c in r)]
    except (OSError, csv.Error) as e:
        raise DataError(f"{path}: not a readable {'TSV' if delimiter == chr(9) else 'CSV'} file ({e})") from None
    if rows and delimiter == "," and ";".join(rows[0]).count(";") > len(rows[0]) - 1:
        raise DataError(
            f"{path}: looks ';'-separated (its header is {','.join(rows[0])[:60]!r}), as spreadsheets "
            "in decimal-comma locales save CSV; save it with ',' between fields and '.' in numbers, or "
            "as tab-separated .tsv"
        )
    return rows


def describe_na(na_values) -> str:
    """How the missing-value texts are named in messages: 'empty, NA, NaN, nan, n.d.'."""
    return ", ".join("empty" if v == "" else v for v in na_values) or "none"


def parse_cell(cell: str, na_values) -> float:
    """A table cell as a float: a text in ``na_values`` (after stripping spaces) is NaN, i.e. missing;
    anything else that is not a number is a DataError that says how missing values are written."""
    text = cell.strip()
    if text in na_values:
        return np.nan
    try:
        return float(text)
    except ValueError:
        if re.fullmatch(r"[-+]?\d*,\d+", text):
            raise DataError(
                f"{text!r} is not a number: a decimal comma? write numbers with a '.' "
                f"({text.replace(',', '.')}), e.g. save the sheet in an English locale"
            ) from None
        raise DataError(
            f"{text!r} is not a number (missing values are written as {describe_na(na_values)}; "
            "--na-values changes the list)"
        ) from None


def cell_kind(text: str, na_values=()) -> bool | None:
    """True for a number, False for other text, None for a missing value."""
    text = text.strip()
    if text in na_values:
        return None
    try:
        float(text)
    except ValueError:
        return False
    return True


def text_columns_and_rows(rows, na_values) -> tuple[list, list]:
    """The data columns and rows (0-based, labels excluded) that hold text where numbers belong, at least two
    cells of it, and not one number: a lab's metadata (strain, notes) beside its levels, in either orientation.
    (A lone text cell is a typo to show, not a column to leave out.)"""
    body = [r[1:] for r in rows[1:]]
    kinds = [[cell_kind(c, na_values) for c in r] for r in body]

    def text(cells):
        cells = list(cells)
        return sum(v is False for v in cells) >= 2 and not any(v is True for v in cells)

    columns = [j for j in range(len(rows[0]) - 1) if text(k[j] for k in kinds)]
    text_rows = [i for i, k in enumerate(kinds) if text(k)]
    return columns, text_rows


def read_text_table(path, na_values=NA_VALUES, leave_out_text: bool = False) -> tuple[list[str], list[str], np.ndarray]:
    """(header labels without the corner cell, row labels, float64 values) of a CSV/TSV file; cells in
    ``na_values`` are NaN. ``leave_out_text``: columns (or rows) that hold text and no number are left out with
    a DataWarning naming them (a lab's strain or notes column); else the first text cell is an error."""
    import warnings

    path = Path(path)
    rows = read_rows(path)
    if len(rows) < 2 or len(rows[0]) < 2:
        raise DataError(
            f"{path}: empty table (needs a header row, a label column and at least one value; is the "
            "file separated by something other than commas or tabs?)"
        )
    width = len(rows[0])
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != width:
            raise DataError(f"{path}: ragged table: line {i} has {len(r)} fields, the header has {width}")
    if leave_out_text:
        text_cols, text_rows = text_columns_and_rows(rows, na_values)
        if text_cols or text_rows:
            names = [f"column {rows[0][j + 1].strip()!r}" for j in text_cols] + [
                f"row {rows[i + 1][0].strip()!r}" for i in text_rows
            ]
            what = "column or row" if len(names) == 1 else "columns or rows"
            warnings.warn(
                DataWarning(
                    f"{path}: {len(names)} {what} of text, not levels, left out: "
                    f"{', '.join(names[:8])}{' ...' if len(names) > 8 else ''} (--strict: stop "
                    "instead)"
                ),
                stacklevel=2,
            )
            keep_c = [0] + [j + 1 for j in range(width - 1) if j not in set(text_cols)]
            drop_r = {i + 1 for i in text_rows}
            rows = [[r[j] for j in keep_c] for k, r in enumerate(rows) if k not in drop_r]
            if len(rows) < 2 or len(rows[0]) < 2:
                raise DataError(f"{path}: no numbers left once its text columns and rows are left out")
    header = [h.strip() for h in rows[0][1:]]
    labels = [r[0].strip() for r in rows[1:]]
    values = np.empty((len(labels), len(header)), dtype=np.float64)
    for i, r in enumerate(rows[1:]):
        for j, c in enumerate(r[1:]):
            try:
                values[i, j] = parse_cell(c, na_values)
            except DataError as e:
                raise DataError(
                    f"{path}: line {i + 2}, column {header[j]!r}: {e}; only the first row and column may hold labels"
                ) from None
    return header, labels, values


@dataclass
class Expression:
    """Samples x genes expression values, in memory or in an HDF5 file read on demand."""

    path: Path
    sample_ids: list
    gene_ids: list
    values: np.ndarray | None = None  # in memory
    _h5: tuple | None = None  # (dataset path, kind 'dense'|'csr'), read on demand
    transform: str = "none"  # applied to the values as read (TRANSFORMS): in memory already, on demand in take

    @property
    def n_samples(self) -> int:
        return len(self.sample_ids)

    def take(self, rows) -> np.ndarray:
        """float64 values of the given sample rows (any order), samples x data genes."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.values is not None:
            return self.values[rows]
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        unique, inverse = np.unique(sorted_rows, return_inverse=True)
        name, kind = self._h5
        with h5py.File(self.path, "r") as f:
            if kind == "dense":
                block = np.asarray(f[name][unique, :], dtype=np.float64)
            else:
                g = f[name]
                indptr = g["indptr"]
                block = np.zeros((unique.size, len(self.gene_ids)), dtype=np.float64)
                for k, r in enumerate(unique):
                    a, b = int(indptr[r]), int(indptr[r + 1])
                    block[k, g["indices"][a:b]] = g["data"][a:b]
        out = np.empty((rows.size, block.shape[1]), dtype=np.float64)
        out[order] = block[inverse]
        return log2p1(out, self.path) if self.transform == "log2p1" else out


def log2p1(values: np.ndarray, path) -> np.ndarray:
    """log2(x + 1) of linear levels (TPM, counts); a negative value is not a linear level: refused."""
    if np.nanmin(values, initial=0.0) < 0:
        raise DataError(
            f"{path}: --transform log2p1 takes linear levels (TPM, counts) but the values go below 0 "
            f"({np.nanmin(values):.3g}): they are on a log scale already; drop --transform"
        )
    return np.log2(values + 1.0)


def looks_linear(values: np.ndarray) -> dict | None:
    """Facts when values look like linear levels (TPM, FPKM, counts: none negative and a 99th percentile far
    above any log2 level), else None."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0 or np.mean(v < 0) > 0.01:  # log fold changes go negative; linear levels (almost) never
        return None
    p99 = float(np.percentile(v, 99))
    if p99 <= LINEAR_P99:
        return None
    return {"p99": p99, "max": float(v.max()), "median": float(np.median(v))}


def check_log_scale(expr: Expression) -> None:
    """Refuse values that look linear (whatever ``--reference`` says): the network's inputs are log2 levels or
    log2 fold changes; linear TPM silently halves the accuracy and turns predictions negative."""
    if expr.transform != "none":
        return
    rows = np.unique(np.linspace(0, expr.n_samples - 1, min(expr.n_samples, 200)).astype(int))
    facts = looks_linear(expr.take(rows))
    if facts:
        raise DataError(
            f"{expr.path}: the values look linear, not log2 (99 % below {facts['p99']:,.0f}, largest "
            f"{facts['max']:,.0f}; log2 levels stay below ~25): TPM or counts? add --transform log2p1 "
            "(log2(x + 1)), or give log2 values"
        )


def _check_ids(path, ids, what):
    if len(set(ids)) != len(ids):
        seen, dup = set(), None
        for i in ids:
            if i in seen:
                dup = i
                break
            seen.add(i)
        raise DataError(f"{path}: duplicate {what} ID {dup!r}; make {what} IDs unique")
    if any(i == "" for i in ids):
        raise DataError(f"{path}: empty {what} ID; every {what} needs an ID")


def _read_h5(path: Path) -> Expression:
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DataError(f"{path}: unreadable or corrupt HDF5 file ({e})") from None
    with f:
        try:
            if "X" in f and "obs" in f and "var" in f:  # AnnData .h5ad

                def index(group):
                    g = f[group]
                    if not isinstance(g, h5py.Group):
                        raise DataError(f"{path}: {group} is not a group; re-save with anndata >= 0.7")
                    return decode_strings(g[g.attrs.get("_index", "_index")])

                samples, genes = index("obs"), index("var")
                x = f["X"]
                if isinstance(x, h5py.Dataset):
                    kind, shape = "dense", x.shape
                else:
                    enc = x.attrs.get("encoding-type", "")
                    enc = enc.decode() if isinstance(enc, bytes) else enc
                    if enc != "csr_matrix":
                        raise DataError(
                            f"{path}: X is stored as {enc or 'an unknown group'}; "
                            "only dense or CSR X can be read (convert X to CSR)"
                        )
                    kind, shape = "csr", tuple(int(v) for v in x.attrs["shape"])
                name = "X"
            elif "expression" in f:
                samples, genes = decode_strings(f["sample_ids"]), decode_strings(f["gene_ids"])
                kind, shape, name = "dense", f["expression"].shape, "expression"
            else:
                raise DataError(f"{path}: no 'expression' dataset (sparsenet layout) and no X/obs/var (AnnData)")
        except KeyError as e:
            raise DataError(f"{path}: missing HDF5 member {e}") from None
    if tuple(shape) != (len(samples), len(genes)):
        raise DataError(
            f"{path}: matrix shape {tuple(shape)} does not match {len(samples)} sample IDs x {len(genes)} gene IDs"
        )
    return Expression(path, samples, genes, None, (name, kind))


def read_expression(
    path, model_gene_ids, orientation: str = "auto", na_values=NA_VALUES, transform: str = "none"
) -> Expression:
    """Read an expression file; orientation of text tables is detected by matching ``model_gene_ids`` (any
    labels that name model genes: IDs and symbols, compared case-insensitively). A missing value (a cell in
    ``na_values``, NaN or inf) is an error: impute or drop it first. Gene labels may repeat (``genes.
    resolve_expression_genes`` maps them to the model's IDs and deals with duplicates); sample IDs may not.
    Columns (or rows) of text, a lab's metadata, are left out with a DataWarning. ``transform``: 'log2p1' takes
    log2(x + 1) of linear levels; values that look linear without it are refused (``check_log_scale``)."""
    path = Path(path)
    one_of("--orientation", orientation, ORIENTATIONS, DataError)
    one_of("--transform", transform, TRANSFORMS, DataError)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.suffix in (".h5", ".hdf5", ".h5ad"):
        expr = _read_h5(path)
    else:
        header, labels, values = read_text_table(path, na_values, leave_out_text=True)
        model = {str(g).lower() for g in model_gene_ids}
        in_rows, in_header = sum(r.lower() in model for r in labels), sum(h.lower() in model for h in header)
        if orientation == "auto":
            if in_rows == 0 and in_header == 0:
                known = list(model_gene_ids)
                raise DataError(
                    f"{path}: no gene IDs or symbols in common with the model (row labels like "
                    f"{labels[0]!r}, column labels like {header[0]!r}; the model's genes are named like "
                    f"{known[0] if known else '?'!r}); check the file, or the masks (--masks)"
                )
            orientation = "genes-by-samples" if in_rows >= in_header else "samples-by-genes"
        if orientation == "genes-by-samples":
            expr = Expression(path, header, labels, np.ascontiguousarray(values.T))
        else:
            expr = Expression(path, labels, header, values)
        if expr.values is not None and not np.isfinite(expr.values).all():
            bad = np.argwhere(~np.isfinite(expr.values))[0]
            raise DataError(
                f"{path}: missing, NaN or infinite value for sample {expr.sample_ids[bad[0]]!r}, "
                f"gene {expr.gene_ids[bad[1]]!r} (missing: {describe_na(na_values)}); the network "
                "needs every value: impute or drop that sample or gene first"
            )
        if transform == "log2p1":
            expr.values = log2p1(expr.values, path)
    expr.transform = transform
    _check_ids(path, expr.sample_ids, "sample")
    check_log_scale(expr)
    if any(g == "" for g in expr.gene_ids):
        raise DataError(f"{path}: empty gene ID; every gene needs an ID")
    return expr


@dataclass
class Alignment:
    """Where each model gene's values come from in the data (-1: missing, filled as no change)."""

    columns: np.ndarray
    missing: list
    unused: int

    def summary(self) -> str:
        n = len(self.columns)
        return (
            f"{n - len(self.missing)} of {n} model genes found in the data ({len(self.missing)} missing, "
            f"filled as no change); {self.unused} data genes not in the model"
        )


def align(data_gene_ids, model_gene_ids, path="data") -> Alignment:
    position = {g: i for i, g in enumerate(data_gene_ids)}
    columns = np.array([position.get(g, -1) for g in model_gene_ids], dtype=np.int64)
    if (columns < 0).all():
        raise DataError(
            f"{path}: no gene IDs in common with the model (data IDs like {data_gene_ids[0]!r}, "
            f"model IDs like {model_gene_ids[0]!r})"
        )
    missing = [g for g, c in zip(model_gene_ids, columns, strict=True) if c < 0]
    unused = len(data_gene_ids) - int((columns >= 0).sum())
    return Alignment(columns, missing, unused)
