"""The conversation: the grammar of a typed line, the reader's session that answers it, and
the opening question shipped with the model. The TUI and the CLI only render its replies."""
