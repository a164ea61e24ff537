"""Training stage: one model per scene (trainer), its clips and masks, pseudo anomalies, losses."""
