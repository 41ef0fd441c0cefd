"""Running studies: plans and their executor, folds, fitting a fold of each kind (network, baseline, null
wiring), cached pre-trainings, predictions from a saved model."""
