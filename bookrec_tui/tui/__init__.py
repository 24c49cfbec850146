"""The Textual app: a thin face that shows the session's replies (bookrec_tui.chat) and carries
out their effects."""
