"""The Textual app: a thin face over bookrec_tui.Recommender."""
