"""Models of a player's points: leak-free features, LightGBM + Keras quantile models, registry."""

import os

# LightGBM runs on OpenMP, whose threads spin while they wait at a barrier by default. On a small
# shared machine (2 cores, a web process and other workers) a spinning thread starves the one it
# waits for: training measured 15x slower under load. Passive waiting costs nothing when idle.
# Set before lightgbm is first imported (mlmodels is imported when Django loads its apps).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
