"""Scoring stage: model inference, frame scores of frame stores and of any footage, score files, post-processing."""
