"""Training (the ``train`` extra): the Keras model, the baselines it is measured against, the
reader-by-book interaction matrices, and the train-and-export pipeline. The only package that
imports TensorFlow or Keras, besides :mod:`bookrec_tui.evaluation`."""
