"""The recommender itself: catalogue types, the model bundle and its numpy scoring, search,
works and series, list assembly, onboarding questions and metrics.

numpy, scipy and rapidfuzz only: no pandas, Textual, rich, TensorFlow or Keras (the import
contracts in pyproject.toml check it).
"""
