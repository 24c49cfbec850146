"""The one place training imports TensorFlow and Keras, lazily: importing a training module
costs nothing until a model is built, and the app never gets here."""

from __future__ import annotations

import os

TRAIN_HINT = "pip install 'bookrec-tui[train]'"


def import_keras():
    """(keras, tensorflow), Keras on the TensorFlow backend unless KERAS_BACKEND says another."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    return keras, tf
