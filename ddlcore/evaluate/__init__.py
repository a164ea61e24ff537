"""Evaluation stage: AUCs, statistics over seeds, tables, figures, provenance, job benchmarks."""
