"""The one place training imports TensorFlow and Keras, lazily: importing a training module
costs nothing until a model is built, and the app never gets here."""

from __future__ import annotations

import os

TRAIN_HINT = "pip install 'bookrec-tui[train]'"


def keras_module():
    """Keras, on TensorFlow unless KERAS_BACKEND says otherwise (e.g. jax). It does not
    import TensorFlow itself: the embedding model and its rating head also train where only
    JAX is installed."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import keras
    except ImportError as exc:
        raise ImportError(f"Training needs Keras and a backend: {TRAIN_HINT}") from exc
    return keras


def import_keras():
    """(keras, tensorflow), for the code that uses TensorFlow directly."""
    keras = keras_module()
    import tensorflow as tf

    return keras, tf
