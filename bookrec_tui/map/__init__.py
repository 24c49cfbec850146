"""The book map: 2-D projections of the model's book vectors, named regions and colours, and
the view-model the TUI draws and the image export renders."""
