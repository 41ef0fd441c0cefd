"""Expression and phenotype data: loaders aligned by gene ID, normalisation, streaming, synthesis."""
