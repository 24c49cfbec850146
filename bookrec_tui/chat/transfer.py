"""Books in and out from the chat: a Goodreads export imported (a preview, then `yes`,
`yes replace` or `no`), the reader's ratings exported as CSV."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bookrec_tui.chat import wording
from bookrec_tui.chat.replies import Reply, ReplyKind

if TYPE_CHECKING:
    from bookrec_tui.chat.session import ReaderSession
    from bookrec_tui.store.goodreads import ImportPlan

CANCEL_WORDS = frozenset(("no", "n", "cancel", "nope", "stop"))
YES_WORDS = frozenset(("yes", "y"))


def _path(text: str) -> Path:
    """A path as typed: quotes around it dropped, ~ expanded."""
    return Path(text.strip().strip("'\"")).expanduser()


class GoodreadsImport:
    """An import previewed and waiting for the reader's yes or no."""

    def __init__(self, session: ReaderSession) -> None:
        self.session = session
        self.plan: ImportPlan | None = None  # previewed, awaiting `yes`

    def preview(self, path_text: str) -> Reply:
        """Parse and match a Goodreads export; nothing is written until the reader says yes.
        Slow for a big export: faces run it in the background."""
        from bookrec_tui.store.goodreads import plan_import

        if not path_text:
            return Reply(
                "Import which file? e.g. `import ~/goodreads_library_export.csv`.",
                kind=ReplyKind.ERROR,
            )
        path = _path(path_text)
        plan = plan_import(path, self.session.rec.catalogue, self.session.ratings)
        if plan.empty:
            return Reply(f"{path.name}: {wording.import_nothing(plan)}", kind=ReplyKind.ERROR)
        self.plan = plan
        changed = len(plan.conflicts)
        conflicts = (
            f" {changed} of them you already rated differently here: `yes` keeps your "
            "ratings, `yes replace` takes Goodreads'."
            if changed
            else ""
        )
        return Reply(
            f"{path.name}: {wording.import_counts(plan)}{conflicts} "
            "Type `yes` to import them (`undo` takes the whole import back), `no` to cancel."
        )

    def answer(self, line: str) -> Reply | None:
        """The reader's answer to the preview; None when there is none to answer or the
        line says something else (the import is then dropped and the line handled)."""
        if self.plan is None:
            return None
        plan, self.plan = self.plan, None
        answer = line.strip().lower().split()
        if answer and answer[0] in CANCEL_WORDS:
            return Reply("Import cancelled: nothing was changed.")
        if not answer or answer[0] not in YES_WORDS:
            return None
        s = self.session
        ratings, skipped = plan.apply(s.profile, replace_conflicts=answer[1:] == ["replace"])
        return Reply(
            f"{wording.import_done(plan, ratings, skipped)} You now have {len(s.ratings)} "
            "ratings. (`undo` takes the whole import back.)",
            changed=True,
        )


def export_ratings(session: ReaderSession, path_text: str) -> Reply:
    """Write the reader's ratings as CSV (book_id,title,authors,rating), atomically."""
    from bookrec_tui.fsutil import check_output_file
    from bookrec_tui.store.profile import save_ratings_csv

    if not path_text:
        return Reply("Export to which file? e.g. `export ~/my-ratings.csv`.", kind=ReplyKind.ERROR)
    path = _path(path_text)
    check_output_file(path)  # no folder, device or missing folder: one clear error reply
    try:
        n = save_ratings_csv(session.profile, session.rec.catalogue, path)
    except OSError as exc:
        return Reply(f"Could not write {path}: {exc.strerror or exc}.", kind=ReplyKind.ERROR)
    return Reply(f"Wrote your {n} ratings to {path}.")
