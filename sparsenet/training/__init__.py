"""Training DeepMetabolism networks: build (strategies A/B/C), pre-train, fine-tune, checkpoint."""
