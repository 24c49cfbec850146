"""The conversation, understood in one place.

grammar (a typed line -> a Command) -> session (ReaderSession: the reader's state, what a
line or a key means, the answers) -> replies (Reply: text, a kind, and the effects a face
carries out: open the map, run slow work in the background, fetch the data, quit). The
session's dialogues live beside it: questions (onboarding), transfer (Goodreads import,
export), loading (lines typed before the session is up). wording holds what two faces both
say (stars, a book's line, why it is listed, import summaries, help); opening, the first
question shipped with the model. The TUI and the CLI render replies and nothing more.
"""
