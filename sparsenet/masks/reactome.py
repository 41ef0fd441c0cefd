"""Reactome as a hierarchy source, from the files the ``binn`` 0.1.1 wheel ships (Reactome release of
January 2025): UniProt -> lowest pathway (all species), parent -> child pathway, pathway names.

Fetched once into the cache (``sparsenet.wheels``), never vendored. Reactome's data are CC BY 4.0
(cite: Milacic et al., Nucleic Acids Res. 2024); the ``binn`` wheel that carries them is MIT.
"""

from __future__ import annotations

from ..wheels import cache_root, wheel_files
from .hierarchy import Hierarchy, HierarchyError, hierarchy_from_files

PACKAGE, VERSION = "binn", "0.1.1"
FILES = {
    "uniprot_2_reactome.txt": "binn/data/downloads/uniprot_2_reactome_2025_01_14.txt",
    "pathway_relations.txt": "binn/data/downloads/reactome_pathways_relation_2025_01_14.txt",
    "pathway_names.txt": "binn/data/downloads/reactome_pathways_names_2025_01_21.txt",
}
ID_TYPES = ("uniprot",)


def reactome_files(progress=print) -> dict:
    return wheel_files(
        PACKAGE,
        VERSION,
        FILES,
        cache_root() / f"reactome-{PACKAGE}-{VERSION}",
        progress=progress,
        what="Reactome's pathway tables (~42 MB)",
    )


def reactome_hierarchy(
    features, levels: int = 4, species: str = "HSA", id_type: str = "uniprot", progress=print
) -> Hierarchy:
    """The ``levels``-level Reactome hierarchy over ``features`` (UniProt accessions), pathways of
    ``species`` (a Reactome code: HSA human, MMU mouse ...)."""
    if id_type not in ID_TYPES:
        raise HierarchyError(
            f"--id-type {id_type!r}: Reactome's shipped tables key proteins by UniProt accession "
            "only (their UniProt table has no gene names); map your features to UniProt first, or "
            "pass your own feature -> pathway table"
        )
    files = reactome_files(progress)
    h = hierarchy_from_files(
        files["uniprot_2_reactome.txt"],
        features,
        levels,
        files["pathway_relations.txt"],
        files["pathway_names.txt"],
        species=species,
    )
    h.attrs.update(source=f"reactome ({PACKAGE} {VERSION} wheel, release 2025-01)", id_type=id_type)
    return h
