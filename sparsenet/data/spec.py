"""What data to read and how, as one object: built once from the command line (or by a user in
Python) and passed down, instead of a dozen positional parameters through every loader."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..allowed import one_of
from .tables import NA_VALUES, ORIENTATIONS, DataError


@dataclass
class DataSpec:
    """Files and reading rules of a training (or prediction) data set.

    expression : expression file (CSV/TSV in either orientation, HDF5, .h5ad)
    phenotypes : phenotype table by sample ID
    reference : sample IDs whose mean log2 level is the reference (the values are then levels, not
        fold changes); empty: the values are log2 fold changes
    orientation : 'auto', 'genes-by-samples' or 'samples-by-genes' (text tables)
    columns : phenotype columns to fit (empty: every column that maps to a phenotype)
    mapping : phenotype column -> phenotype ID or name of the masks
    sample_column : the phenotype table's sample ID column (None: the first)
    group_by : the column whose groups stay in one fold (None: no groups)
    keep_zero : keep observations of exactly 0 (default: missing)
    pretrain_expression : a separate pre-training pool (HDF5 streams)
    na_values : cell texts read as missing
    gene_ids : how expression gene labels name model genes: 'auto' (an ID, else a symbol, any case), 'id'
        or 'symbol' (``genes.map_gene_labels``)
    duplicates : several rows of one gene: 'mean' (averaged), 'first' (the first kept) or 'error'
    transform : 'none', or 'log2p1': log2(x + 1) of linear levels (TPM, counts) as read
    """

    expression: Path | None = None
    phenotypes: Path | None = None
    reference: tuple = ()
    orientation: str = "auto"
    columns: tuple = ()
    mapping: dict = field(default_factory=dict)
    sample_column: str | None = None
    group_by: str | None = None
    keep_zero: bool = False
    pretrain_expression: Path | None = None
    na_values: tuple = NA_VALUES
    gene_ids: str = "auto"
    duplicates: str = "mean"
    transform: str = "none"

    def __post_init__(self):
        from .genes import DUPLICATE_MODES, GENE_ID_MODES

        one_of("--orientation", self.orientation, ORIENTATIONS, DataError)
        one_of("--gene-ids", self.gene_ids, GENE_ID_MODES, DataError)
        one_of("--duplicates", self.duplicates, DUPLICATE_MODES, DataError)
        self.reference, self.columns, self.na_values = tuple(self.reference), tuple(self.columns), tuple(self.na_values)
        self.mapping = dict(self.mapping)
