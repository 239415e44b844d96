"""Executing plans: the stage context, kernels, the runner, batches, the pulse, export-contacts."""
