"""A pathway hierarchy as the masks of an N-level network: features -> lowest pathways -> their parents
-> ... -> the top level, the shape every biologically informed network (P-NET, BINN, KPNN) uses.

Inputs are two tables: feature -> pathway (the pathways a gene or protein is annotated to; Reactome's
``UniProt2Reactome`` file, any two-column CSV/TSV, or a GMT gene-set file) and parent -> child pathway
(Reactome's relation file or any two-column CSV/TSV). Only pathways above at least one of the data's
features are kept.

**Levels.** A pathway's depth is its shortest distance from a root (a pathway with no parent); with
``levels=n`` the top level holds the roots (depth 0) and level 1, the one the features feed, depth
n - 1. Pathways deeper than that are *lifted*: a feature annotated to one feeds that pathway's
ancestors at depth n - 1. Paths of unequal depth are completed by **copying**, as BINN and P-NET do: a
pathway at depth d < n - 1 that a feature is annotated to is repeated at every level below its own,
each copy (ID ``<id>#copy<level>``) linked to itself one level up, so its features reach it through
the same number of layers as every other. Copies are identity-like nodes (one input each) a network
can learn to pass on; the alternative, skip connections, would need a layer that reads two levels
and is no longer a stack. An edge from a pathway to a parent that is not exactly one level up (the
parent is reached by a shorter route too) is left out: every node then sits at one level, and its
shorter route already links it above. Both counts are in ``attrs``.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import scipy.sparse as sp

from ..h5io import decode_strings, encode_strings, has_format, open_checked, read_sparse, write_sparse
from .store import incidence

FORMAT = "sparsenet-hierarchy/1"
COPY = "#copy"  # a copy's ID: the pathway's, this and its level (no Reactome, GO or model ID holds "#")
HEADER_WORDS = {
    "feature",
    "gene",
    "genes",
    "protein",
    "uniprot",
    "pathway",
    "pathways",
    "parent",
    "child",
    "source",
    "target",
    "id",
    "term",
    "node",
}


class HierarchyError(ValueError):
    """A hierarchy that cannot be built as asked; the message names the file or value and the fix."""


@dataclass
class Hierarchy:
    """An N-level network's wiring. ``masks[0]`` is level 1 x features, ``masks[k]`` level k+1 x level k
    (0/1, CSR); ``level_ids[k]`` / ``level_names[k]`` name level k+1's nodes."""

    feature_ids: list
    level_ids: list
    level_names: list
    masks: list
    attrs: dict = field(default_factory=dict)
    source: str = ""

    @property
    def n_levels(self) -> int:
        return len(self.masks)

    def level_sizes(self) -> list:
        return [len(ids) for ids in self.level_ids]

    def fingerprint(self) -> str:
        """16 hex digits of what the network is wired from: the features, every level's node IDs and links (not
        the names or the provenance). Recorded controls are kept under it (``report.evidence``)."""
        h = hashlib.sha256()
        for ids in [self.feature_ids, *self.level_ids]:
            h.update("\x1f".join(map(str, ids)).encode() + b"\x1e")
        for m in self.masks:
            m = sp.csr_matrix(m)
            m.sort_indices()
            h.update(
                np.asarray(m.shape, np.int64).tobytes()
                + m.indptr.astype(np.int64).tobytes()
                + m.indices.astype(np.int64).tobytes()
            )
        return h.hexdigest()[:16]

    def summary(self) -> list:
        """One row per level: its nodes, its inputs, links and density (links / (nodes x inputs))."""
        rows = []
        for k, m in enumerate(self.masks):
            rows.append(
                {
                    "level": k + 1,
                    "nodes": m.shape[0],
                    "inputs": m.shape[1],
                    "links": int(m.nnz),
                    "density": float(m.nnz / (m.shape[0] * m.shape[1])),
                    "copies": int(sum(i.endswith(f"{COPY}{k + 1}") for i in self.level_ids[k])),
                }
            )
        return rows

    def restricted_to(self, feature_ids) -> Hierarchy:
        """The same hierarchy over ``feature_ids`` (in that order): features it does not know feed nothing."""
        col = {f: i for i, f in enumerate(self.feature_ids)}
        m0 = sp.csr_matrix(self.masks[0], dtype=np.int8)
        empty = m0.shape[1]  # an unknown feature reads this appended column of no links
        padded = sp.hstack([m0, sp.csr_matrix((m0.shape[0], 1), dtype=np.int8)], format="csc")
        first = padded[:, [col.get(f, empty) for f in feature_ids]].tocsr()
        return Hierarchy(
            list(feature_ids), self.level_ids, self.level_names, [first] + self.masks[1:], dict(self.attrs), self.source
        )


# ---------------------------------------------------------------------------------------------- reading tables


def _table(path, what: str) -> list:
    """Every row of a CSV or TSV file (tab-separated when its first line holds a tab), cells stripped;
    HierarchyError when the file is missing."""
    path = Path(path)
    if not path.exists():
        raise HierarchyError(f"{path}: no such {what} file")
    with open(path, newline="", encoding="utf-8-sig") as f:
        first = f.readline()
        f.seek(0)
        return [[c.strip() for c in row] for row in csv.reader(f, delimiter="\t" if "\t" in first else ",")]


def read_pairs(path, what: str) -> list:
    """Rows of a two-or-more-column table (tab- or comma-separated, sniffed from its first line) as lists of
    strings; a first row of column words (``feature``, ``pathway``, ``parent``, ``child`` ...) is a header and
    skipped, rows starting with ``#`` are comments. HierarchyError naming the file and line otherwise."""
    rows = []
    for line, row in enumerate(_table(path, what), start=1):
        if not any(row) or row[0].startswith("#"):
            continue
        if not rows and line == 1 and row[0].lower() in HEADER_WORDS:
            continue
        if len(row) < 2 or not row[0] or not row[1]:
            raise HierarchyError(f"{path}, line {line}: a {what} row needs two non-empty columns, got {row[:2]}")
        rows.append(row)
    if not rows:
        raise HierarchyError(f"{path}: no rows; a {what} table has one pair per row")
    return rows


def read_gmt(path) -> tuple:
    """A GMT gene-set file (name, description, then its genes, tab-separated) as feature -> pathway pairs and
    the sets' descriptions as names."""
    path = Path(path)
    if not path.exists():
        raise HierarchyError(f"{path}: no such GMT file")
    pairs, names = [], {}
    with open(path, encoding="utf-8-sig") as f:
        for line, text in enumerate(f, start=1):
            fields = [c.strip() for c in text.rstrip("\n").split("\t")]
            if not text.strip():
                continue
            if len(fields) < 3 or not fields[0]:
                raise HierarchyError(
                    f"{path}, line {line}: a GMT line is a set name, a description and its genes, tab-separated"
                )
            names[fields[0]] = fields[1] or fields[0]
            pairs.extend((g, fields[0]) for g in fields[2:] if g)
    if not pairs:
        raise HierarchyError(f"{path}: no gene sets")
    return pairs, names


def read_named_columns(path, columns) -> list:
    """(feature, pathway) pairs from a table with a header row, by the header's names ``columns``."""
    header, *rows = _table(path, "feature -> pathway") or [[]]
    missing = [c for c in columns if c not in header]
    if missing:
        raise HierarchyError(f"{path}: no column {missing[0]!r} (--columns); the columns are {', '.join(header)}")
    i, j = (header.index(c) for c in columns)
    pairs = [(r[i], r[j]) for r in rows if len(r) > max(i, j) and r[i] and r[j]]
    if not pairs:
        raise HierarchyError(f"{path}: no rows with both {columns[0]!r} and {columns[1]!r}")
    return pairs


def read_annotations(path, species: str | None = None, columns=None) -> tuple:
    """Feature -> pathway pairs and pathway names from ``path``: a ``.gmt`` file, a table whose first two
    columns are feature and pathway (Reactome's UniProt2Reactome: its fourth column is the pathway's name),
    or, with ``columns`` (feature column, pathway column), a table with a header naming them.
    ``species`` (a Reactome code such as ``HSA``) keeps pathways whose ID starts ``R-<species>-``."""
    if columns:
        pairs, names = read_named_columns(path, columns), {}
    elif Path(path).suffix.lower() == ".gmt":
        pairs, names = read_gmt(path)
    else:
        rows = read_pairs(path, "feature -> pathway")
        pairs = [(r[0], r[1]) for r in rows]
        names = {r[1]: r[3] for r in rows if len(r) > 3 and r[3]}
    if species:
        prefix = f"R-{species.upper()}-"
        pairs = [(f, p) for f, p in pairs if p.startswith(prefix)]
        if not pairs:
            raise HierarchyError(
                f"{path}: no pathway ID starts with {prefix!r}; check --species (Reactome codes: "
                "HSA human, MMU mouse, RNO rat ...)"
            )
    return pairs, names


# ---------------------------------------------------------------------------------------------- building


def _check_acyclic(children: dict, start) -> None:
    """HierarchyError naming one cycle reachable from ``start`` in the parent -> children graph."""
    state, parent_of = {}, {}
    for root in start:
        if state.get(root):
            continue
        stack = [(root, iter(children.get(root, ())))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                cycle = [nxt] + [n for n, _ in stack[[n for n, _ in stack].index(nxt) + 1 :]] + [nxt]
                raise HierarchyError(
                    f"the parent -> child table has a cycle: {' -> '.join(cycle)}; a hierarchy "
                    "must be acyclic (remove one of these rows)"
                )
            elif not state.get(nxt):
                state[nxt] = 1
                parent_of[nxt] = node
                stack.append((nxt, iter(children.get(nxt, ()))))


def build_hierarchy(
    annotations, relations, features, levels: int, names: dict | None = None, attrs: dict | None = None
) -> Hierarchy:
    """The ``levels``-level hierarchy over ``features`` (the data's feature IDs, in order).

    ``annotations``: (feature, pathway) pairs; ``relations``: (parent, child) pairs (empty: one level, the
    annotations' pathways). Rules for depths in the module's docstring."""
    if levels < 1:
        raise HierarchyError(f"levels must be 1 or more, got {levels}")
    features = [str(f) for f in features]
    if len(set(features)) != len(features):
        raise HierarchyError("the data's features are not unique; average or drop duplicated features first")
    wanted = set(features)
    annotated = defaultdict(set)  # pathway -> features of the data
    for f, p in annotations:
        if f in wanted:
            annotated[p].add(f)
    if not annotated:
        example = next(iter(annotations), ("?", "?"))[0]
        raise HierarchyError(
            f"no pathway annotates any of the data's {len(features)} features (the table's IDs look "
            f"like {example!r}, the data's like {features[0]!r}); use the identifier type the data "
            "has (--id-type), or map the data's IDs first"
        )
    parents, children = defaultdict(set), defaultdict(set)
    for parent, child in relations:
        if parent == child:
            raise HierarchyError(f"the parent -> child table links {parent!r} to itself; remove that row")
        parents[child].add(parent)
        children[parent].add(child)
    # every pathway above an annotated one
    above, queue = set(annotated), deque(annotated)
    while queue:
        for p in parents.get(queue.popleft(), ()):
            if p not in above:
                above.add(p)
                queue.append(p)
    roots = sorted(p for p in above if not parents.get(p))
    _check_acyclic(children, roots + sorted(above))
    depth = {r: 0 for r in roots}
    queue = deque(roots)
    while queue:
        p = queue.popleft()
        for c in sorted(children.get(p, ())):
            if c in above and c not in depth:
                depth[c] = depth[p] + 1
                queue.append(c)
    bottom = levels - 1  # the depth of level 1

    def ancestors_at(p, d):
        """Ancestors of ``p`` (itself included) at depth ``d``, climbing one level at a time."""
        frontier = {p}
        while frontier and depth[next(iter(frontier))] > d:
            frontier = {q for n in frontier for q in parents.get(n, ()) if depth.get(q) == depth[n] - 1}
        return frontier

    # nodes of each level (index 0 = level 1) and edges below each
    nodes = [set() for _ in range(levels)]
    feature_edges = set()  # (feature, level-1 node)
    up_edges = [set() for _ in range(levels - 1)]  # (node at level k+1, node at level k+2)
    copies = 0

    def place(p, level_index):
        """Put pathway p (or its copy) at ``level_index`` and link it up to the top."""
        nonlocal copies
        own = bottom - depth[p]  # index of p's own level
        node = p if level_index == own else f"{p}{COPY}{level_index + 1}"
        if node in nodes[level_index]:
            return node
        nodes[level_index].add(node)
        if level_index == own:
            for q in parents.get(p, ()):
                if depth.get(q) == depth[p] - 1 and own + 1 < levels:
                    up_edges[own].add((p, place(q, own + 1)))
        else:
            copies += 1
            up_edges[level_index].add((node, place(p, level_index + 1)))
        return node

    for p, fs in annotated.items():
        targets = ancestors_at(p, bottom) if depth[p] >= bottom else {p}
        for q in targets:
            node = place(q, 0)
            feature_edges.update((f, node) for f in fs)
    skipped = sum(1 for c in above for q in parents.get(c, ()) if depth.get(q) is not None and depth[q] != depth[c] - 1)
    level_ids = [sorted(n) for n in nodes]
    index = [{n: i for i, n in enumerate(ids)} for ids in level_ids]
    fcol = {f: i for i, f in enumerate(features)}
    fe = sorted(feature_edges)
    masks = [incidence([index[0][n] for _, n in fe], [fcol[f] for f, _ in fe], (len(level_ids[0]), len(features)))]
    for k, edges in enumerate(up_edges):
        e = sorted(edges)
        masks.append(
            incidence(
                [index[k + 1][b] for _, b in e], [index[k][a] for a, _ in e], (len(level_ids[k + 1]), len(level_ids[k]))
            )
        )
    names = names or {}

    def name(n):
        base = n.rsplit(COPY, 1)[0]
        return names.get(base, base) + (" (copy)" if n != base else "")

    level_names = [[name(n) for n in ids] for ids in level_ids]
    info = {
        "levels": levels,
        "features": len(features),
        "features_linked": int(np.count_nonzero(np.diff(sp.csc_matrix(masks[0]).indptr))),
        "pathways_annotated": len(annotated),
        "copies": copies,
        "edges_skipping_levels": int(skipped),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **(attrs or {}),
    }
    return Hierarchy(features, level_ids, level_names, masks, info)


def file_digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def hierarchy_from_files(
    annotations_file,
    features,
    levels: int,
    relations_file=None,
    names_file=None,
    species: str | None = None,
    columns=None,
) -> Hierarchy:
    """``build_hierarchy`` from files (see ``read_annotations``; names: a table of ID, name[, species])."""
    pairs, names = read_annotations(annotations_file, species, columns)
    relations = [(r[0], r[1]) for r in read_pairs(relations_file, "parent -> child")] if relations_file else []
    if names_file:
        names.update({r[0]: r[1] for r in read_pairs(names_file, "pathway names")})
    attrs = {
        "kind": "hierarchy",
        "annotations_file": Path(annotations_file).name,
        "annotations_sha256": file_digest(annotations_file),
        "species": species or "",
    }
    if relations_file:
        attrs.update(relations_file=Path(relations_file).name, relations_sha256=file_digest(relations_file))
    return build_hierarchy(pairs, relations, features, levels if relations_file else 1, names, attrs)


# ---------------------------------------------------------------------------------------------- the file


def write_levels(group, h: Hierarchy) -> None:
    """``h`` into an open HDF5 group (a hierarchy file's root, or a group of a file that holds one)."""
    for k, v in h.attrs.items():
        group.attrs[k] = v
    group.create_dataset("feature_ids", data=encode_strings(h.feature_ids))
    for k, (ids, nm, m) in enumerate(zip(h.level_ids, h.level_names, h.masks, strict=True)):
        g = group.create_group(f"level{k + 1}")
        g.create_dataset("ids", data=encode_strings(ids))
        g.create_dataset("names", data=encode_strings(nm))
        write_sparse(g.create_group("mask"), m)


def read_levels(group, source: str) -> Hierarchy:
    """The hierarchy ``write_levels`` wrote into ``group``."""
    n = int(group.attrs["levels"])
    groups = [group[f"level{k + 1}"] for k in range(n)]
    attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in group.attrs.items() if k != "format"}
    return Hierarchy(
        decode_strings(group["feature_ids"]),
        [decode_strings(g["ids"]) for g in groups],
        [decode_strings(g["names"]) for g in groups],
        [read_sparse(g["mask"]) for g in groups],
        attrs,
        source,
    )


def write_hierarchy(path, h: Hierarchy) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        write_levels(f, h)


def read_hierarchy(path) -> Hierarchy:
    with open_checked(path, FORMAT, "hierarchy file") as f:
        h = read_levels(f, str(path))
    h.attrs["format"] = FORMAT
    return h


def is_hierarchy_file(path) -> bool:
    return has_format(path, FORMAT)


def feature_ids_of_table(path, samples_as_rows: bool = False) -> list:
    """The feature IDs of a data table: its first column below the header (features as rows, as BINN's
    ``sample_datamatrix.csv``), or with ``samples_as_rows`` its header after the first cell."""
    rows = _table(path, "data table")
    if not rows or not rows[0]:
        raise HierarchyError(f"{path}: empty data table")
    ids = rows[0][1:] if samples_as_rows else [r[0] for r in rows[1:] if r]
    ids = [i for i in ids if i]
    if not ids:
        raise HierarchyError(
            f"{path}: no feature IDs in its {'header row' if samples_as_rows else 'first column'}"
            f"{'' if samples_as_rows else ' (features as columns? pass --samples-as-rows)'}"
        )
    seen, unique = set(), []
    for i in ids:
        if i not in seen:
            seen.add(i)
            unique.append(i)
    return unique
