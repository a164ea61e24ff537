"""From scores to alarms: causal frame scores, calibration on normal footage, thresholds and events.

- :mod:`.causal`: frame scores computed the way a live system can (no future frame beyond the
  model's half clip, no per-video statistics), with the box of the worst patch;
- :mod:`.events`: the alarm state machine (threshold, hysteresis, minimum length, merge gap);
- :mod:`.threshold`: a threshold from a false-alarm budget or a quantile;
- :mod:`.calibration`: the calibration sidecar kept next to a model, and ``ddl calibrate``;
- :mod:`.evaluation`: event-level figures on labelled test videos, and ``ddl events``.
"""
