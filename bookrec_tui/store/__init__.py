"""Files: the goodbooks-10k CSVs and their caches, the packed catalogue that ships with the
model, reader profiles, Goodreads library imports, downloads, the UCSD Goodreads loader and
synthetic catalogues. Built on :mod:`bookrec_tui.core`'s types."""
