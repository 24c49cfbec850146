"""The shipped model bundle, installed as the package ``bookrec_tui.shipped_model``."""
