"""Offline evaluation (the ``train`` extra): the protocols (cold start, series-aware, the
tutorial split, real Goodreads readers), the audit of the lists a reader sees, and the run
that puts the model and its baselines side by side."""
