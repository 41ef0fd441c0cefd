"""Connection masks from a genome-scale metabolic model (model -> masks), and their HDF5 store."""
