"""The `bookrec-tui` command: the app by default, plus subcommands over the same API."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from pathlib import Path

from bookrec_tui import __version__
from bookrec_tui.chat import wording
from bookrec_tui.errors import BookrecError
from bookrec_tui.evaluation.config import (
    PROTOCOLS,
    REAL_READER_ORDERS,
    EvaluationConfig,
    protocol_name,
)
from bookrec_tui.paths import DATA_ENV

EPILOG = f"""\
examples:
  bookrec-tui                                   open the app (default profile)
  bookrec-tui --profile alice                   open the app with another reader's shelf
  bookrec-tui search "hary poter"               fuzzy title/author search
  bookrec-tui recommend --rate "The Hobbit=5" --rate id:4=4 --json
                                                (id:4 is goodbooks book_id 4: To Kill a Mockingbird)
  bookrec-tui recommend --profile alice         for a saved reader (the app's shelf)
  bookrec-tui similar "Dune"                    more like this (your shelf's books marked)
  bookrec-tui import goodreads_library_export.csv   bring in your Goodreads ratings
  bookrec-tui data fetch                        download goodbooks-10k (public release)
  bookrec-tui map --method tsne --out map.png   your books on a map of all 10,000 (viz extra)
  bookrec-tui export --out my-ratings.csv       your ratings as CSV (stdout by default)
  bookrec-tui train --out models/               retrain the Keras model
  bookrec-tui evaluate                          cold-start evaluation against baselines

data: the app, search, recommend, similar, import, export and map use the catalogue packed
with the model unless a data directory is given (--data-dir, else ${DATA_ENV}) or was
fetched (`bookrec-tui data fetch`); train and evaluate need that directory's ratings.csv.
"""


DEFAULT_REPORT = Path("runs/evaluation.json")


def _add_data_dir(p: argparse.ArgumentParser, top: bool = False) -> None:
    # Sub-commands accept the flag too; SUPPRESS keeps them from resetting the top-level value.
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None if top else argparse.SUPPRESS,
        help=f"folder with goodbooks-10k CSVs (default: ${DATA_ENV} or the user data dir)",
    )


def _add_model_dir(p: argparse.ArgumentParser, top: bool = False) -> None:
    p.add_argument(
        "--model-dir",
        metavar="DIR",
        default=None if top else argparse.SUPPRESS,
        help="folder with bookrec-bundle.npz (default: the model shipped with the package)",
    )


def _add_profile(p: argparse.ArgumentParser, top: bool = False, what: str = "") -> None:
    p.add_argument(
        "--profile",
        metavar="NAME",
        default=None if top else argparse.SUPPRESS,
        help=what or "reader profile name (default: default)",
    )


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (``-n 0`` or ``-n -3`` is refused, not obeyed)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _add_rate(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--rate",
        action="append",
        default=[],
        metavar="BOOK=STARS",
        help=f'{what}: "Title=5", or "id:4=4" for a goodbooks id (repeatable); a title '
        "must clearly name one book, else the candidates are listed with their ids",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bookrec-tui",
        description="Book recommendations in your terminal, from a Keras model trained on "
        "goodbooks-10k. With no command, opens the chat-style app.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bookrec-tui {__version__}")
    _add_data_dir(parser, top=True)
    _add_model_dir(parser, top=True)
    _add_profile(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("search", help="fuzzy search titles and authors")
    p.add_argument("query", nargs="+")
    p.add_argument("-n", type=positive_int, default=10, help="how many results (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_data_dir(p)
    _add_model_dir(p)

    p = sub.add_parser("recommend", help="recommendations for a set of ratings")
    _add_rate(p, "a rating")
    p.add_argument("-n", type=positive_int, default=10, help="how many (default 10)")
    p.add_argument(
        "--shelf",
        "--genre",
        dest="shelf",
        help='only books in this genre, e.g. "fantasy", "non-fiction" (unknown: exit 2 '
        "with the list)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_profile(
        p,
        what="start from this saved reader's ratings (the app's shelf; --rate adds to them "
        "and books they haven't read stay out)",
    )
    _add_data_dir(p)
    _add_model_dir(p)

    p = sub.add_parser("similar", help='"more like this" for one book')
    p.add_argument("book", nargs="+", help="a title (fuzzy) or id:BOOK_ID (goodbooks book_id)")
    p.add_argument("-n", type=positive_int, default=10, help="how many books (default 10)")
    p.add_argument(
        "--json", action="store_true", help="print JSON (with your_rating for shelf books)"
    )
    _add_profile(p, what="mark this reader's rated books (default: default)")
    _add_data_dir(p)
    _add_model_dir(p)

    p = sub.add_parser("import", help="import a Goodreads library export into your profile")
    p.add_argument("path", type=Path, help="the CSV from Goodreads: My Books > Import and export")
    p.add_argument("--yes", action="store_true", help="import without asking (for scripts)")
    p.add_argument(
        "--replace",
        action="store_true",
        help="where you already rated a book differently, take the Goodreads rating "
        "(default: keep yours)",
    )
    _add_profile(p)
    _add_data_dir(p)

    p = sub.add_parser(
        "map",
        help="draw all 10,000 books in 2-D (PNG), your books and recommendations marked",
        description="A scatter of every book placed by its neighbours in the model (the "
        "nearest books by its learned book vectors, and its book-to-book links), coloured "
        "by each book's strongest shelf, the biggest regions named, your rated books and "
        "current recommendations marked. Needs the viz extra: "
        "pip install openTSNE matplotlib, or '.[viz]' in the source folder. Projections "
        "are cached per model.",
    )
    p.add_argument(
        "--method",
        choices=("pca", "tsne"),
        default="pca",
        help="pca or tsne (clearer clusters); both ship with the model, a retrained model "
        "computes them once (t-SNE: minutes on 2 cores); default pca",
    )
    p.add_argument("--out", type=Path, default=Path("map.png"), help="PNG to write (map.png)")
    p.add_argument("--recs", type=int, default=10, help="recommendations to mark (default 10)")
    _add_rate(p, "mark these ratings instead of your profile's")
    _add_profile(p)
    _add_data_dir(p)
    _add_model_dir(p)

    p = sub.add_parser("export", help="write your ratings as CSV (book_id,title,authors,rating)")
    p.add_argument(
        "--out", type=Path, help="file to write (default: standard output); written atomically"
    )
    _add_profile(p)
    _add_data_dir(p)

    p = sub.add_parser(
        "train",
        help="train the Keras model and write a runtime bundle",
        description="Train the Keras model on the ratings and write the numpy bundle the app "
        "runs (pip install '.[train]': Keras on TensorFlow). The embedding model also trains "
        "with Keras on JAX and no TensorFlow: KERAS_BACKEND=jax.",
    )
    p.add_argument("--ratings", type=Path, help="ratings CSV (default: DATA_DIR/ratings.csv)")
    p.add_argument("--books", type=Path, help="books CSV (default: DATA_DIR/books.csv)")
    p.add_argument(
        "--out", type=Path, default=Path("models"), help="output folder (default: models)"
    )
    p.add_argument("--epochs", type=positive_int, help="training epochs (default: the tuned value)")
    p.add_argument(
        "--dim", type=positive_int, help="embedding dimension (default: the tuned value)"
    )
    p.add_argument(
        "--model",
        choices=("links", "embeddings"),
        help="embeddings: learned book embeddings (ELSA) blended with sparse links (the "
        "shipped model, the default); links: item-to-item links from the closed form "
        "refined in Keras (the model shipped before; it solves an n x n matrix)",
    )
    p.add_argument(
        "--distribute",
        choices=("none", "mirrored", "multiworker"),
        help="train the embedding model's book table from a tf.data pipeline under a "
        "tf.distribute strategy: none (one device), mirrored (this machine's GPUs, or "
        "--cpu-replicas CPUs), multiworker (the cluster in TF_CONFIG; only the chief writes "
        "--out). See docs/scale.md",
    )
    p.add_argument(
        "--cpu-replicas",
        type=positive_int,
        default=1,
        help="with --distribute mirrored and no GPU: split the CPU into N replicas",
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--to-read-weight",
        type=float,
        help="embeddings: how much a book a reader shelved to read (to_read.csv beside the "
        "ratings) counts in what the book table learns to rank, against 1 for a 4-star "
        "rating (default 0.3; 0 ignores the file)",
    )
    p.add_argument(
        "--catalogue",
        choices=("goodbooks", "goodreads"),
        default="goodbooks",
        help="goodbooks: goodbooks-10k CSVs; goodreads: the UCSD Goodreads files "
        "(goodreads_interactions.csv, book_id_map.csv, goodreads_books.json.gz, ...) in "
        "--data-dir (default goodbooks)",
    )
    p.add_argument(
        "--min-ratings",
        type=int,
        default=1,
        help="goodreads: keep works with at least this many star ratings (default 1)",
    )
    p.add_argument(
        "--max-books",
        type=int,
        help="goodreads: keep only the N most-read works, e.g. 100000 (default: all)",
    )
    _add_data_dir(p)

    p = sub.add_parser(
        "evaluate",
        help="tutorial, cold-start and real-reader protocols, all methods side by side",
    )
    p.add_argument(
        "--out",
        type=Path,
        help=f"JSON report path (default: {DEFAULT_REPORT}, its folder created if need be)",
    )
    p.add_argument(
        "--users", type=positive_int, default=2000, help="held-out readers (default 2000)"
    )
    p.add_argument(
        "--only",
        type=protocol_name,  # "seed", the tutorial protocol's earlier name, still works
        choices=PROTOCOLS,
        help="run one protocol (default: all five; onboarding: questions a real reader "
        "could answer among the first 10, and NDCG@10 after them; lists: series-aware "
        "NDCG and the trust audit of the final lists)",
    )
    p.add_argument(
        "--skip-tutorial-protocol",
        "--skip-seed-protocol",  # its earlier name
        action="store_true",
        help="skip the tutorial's 80/20 protocol",
    )
    p.add_argument(
        "--exports",
        metavar="DIR",
        help="Goodreads exports for the real-reader protocol (default: a goodreads-exports "
        "folder beside the data directory, if there is one)",
    )
    p.add_argument(
        "--min-rated",
        type=int,
        default=20,
        help="real readers need this many rated books in the catalogue (default 20)",
    )
    p.add_argument(
        "--orders",
        type=positive_int,
        default=REAL_READER_ORDERS,
        help="seeded reveal orders per real reader (default "
        f"{REAL_READER_ORDERS}; the first N of more orders are the same N orders)",
    )
    p.add_argument("--epochs", type=positive_int, help="override our model's epochs")
    p.add_argument(
        "--model",
        choices=("links", "embeddings"),
        default="embeddings",
        help="which of our models the held-out protocols train (the real-reader protocol "
        "scores the bundle in --model-dir, or the shipped one)",
    )
    _add_data_dir(p)
    _add_model_dir(p)

    p = sub.add_parser("data", help="manage the goodbooks-10k data")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    f = dsub.add_parser("fetch", help="download the public goodbooks-10k release")
    f.add_argument("--base-url", help="mirror to download from instead of GitHub")
    f.add_argument("--dest", type=Path, help="target folder (default: the data dir)")
    f.add_argument("--retries", type=positive_int, default=3, help="tries per file (default 3)")
    f.add_argument(
        "--deadline",
        type=positive_int,
        default=900,
        metavar="SECONDS",
        help="give up after this long, all attempts together (default 900)",
    )
    i = dsub.add_parser("info", help="where the data is and what it holds")
    _add_data_dir(i)
    c = dsub.add_parser(
        "pack-catalogue",
        help="pack books.csv and the shelves into the small catalogue shipped beside the model",
        description="Reads books.csv, tags.csv and book_tags.csv from the data directory and "
        "writes bookrec-catalogue.npz (titles, authors, years, languages, Goodreads counts and "
        "averages, top shelves with their counts; no ratings) into the model folder, so the "
        "app runs there with no data directory.",
    )
    c.add_argument(
        "--out",
        type=Path,
        default=Path("models"),
        help="folder of the model bundle to pack beside (default: models)",
    )
    _add_data_dir(c)
    m = dsub.add_parser(
        "pack-maps",
        help="compute the book map's projections (PCA, and t-SNE with the viz extra) and "
        "write them beside the model, so a fresh install's first map reads them",
    )
    m.add_argument(
        "--out", type=Path, default=Path("models"), help="the model folder (default: models)"
    )
    _add_model_dir(m)
    return parser


def _data_dir(args) -> str | None:
    return getattr(args, "data_dir", None)


def _profile_name(args) -> str:
    return getattr(args, "profile", None) or "default"


def _load_recommender(args):
    from bookrec_tui.core.recommender import Recommender

    return Recommender.load(model_dir=getattr(args, "model_dir", None), data_dir=_data_dir(args))


def _load_catalogue(args):
    """The catalogue alone (import, export): the data directory's, else the packed one."""
    from bookrec_tui.core.recommender import default_bundle_path
    from bookrec_tui.store.packed_catalogue import load_runtime_catalogue

    bundle_path = default_bundle_path(getattr(args, "model_dir", None))
    return load_runtime_catalogue(bundle_path, _data_dir(args))


def _open_profile(name: str):
    """The reader's profile; a damaged file (kept as a backup) is reported on stderr."""
    from bookrec_tui.store.profile import Profile

    profile = Profile.open(name)
    if profile.warning:
        print(f"bookrec-tui: {profile.warning}", file=sys.stderr)
    return profile


def _book(rec, text: str, what: str) -> int:
    """The book ``text`` clearly names (a title, or id:N); otherwise a BookrecError (exit 2)
    listing the candidates with their ids, so the CLI never guesses."""
    found = rec.lookup(text)
    if found.book_id is not None:
        return found.book_id
    if not found.candidates:
        raise BookrecError(f"{what}: no book matches {text!r}. Try `bookrec-tui search`.")
    lines = [f"{what}: {text!r} could be several books; name one by its id, e.g. id:N:"]
    lines += [f"  id:{h.book_id:<6} {h.title} — {h.authors}" for h in found.candidates]
    raise BookrecError("\n".join(lines))


def _parse_rate(rec, spec: str) -> tuple[int, int]:
    book, sep, stars = spec.rpartition("=")
    if (
        not sep
        or not (stars.strip().isascii() and stars.strip().isdigit())
        or not 1 <= int(stars) <= 5
    ):
        raise BookrecError(
            f'--rate {spec!r}: write it as "Title=STARS" or "id:BOOK_ID=STARS", stars 1 to 5.'
        )
    return _book(rec, book, f"--rate {spec!r}"), int(stars)


def _say_rated(rec, ratings: dict[int, int]) -> None:
    """Name the books --rate was taken as (on stderr: stdout stays the list)."""
    for book_id, stars in ratings.items():
        print(f"rated {stars}★: {rec.catalogue.label(book_id)} (id:{book_id})", file=sys.stderr)


def cmd_search(args) -> int:
    rec = _load_recommender(args)
    hits = rec.search(" ".join(args.query), args.n)
    if args.json:
        # The JSON keys predate BookHit.match: "score" (the match) and an empty "note" stay.
        rows = [
            {"book_id": h.book_id, "title": h.title, "authors": h.authors, "score": h.match}
            for h in hits
        ]
        print(json.dumps([{**r, "note": ""} for r in rows], indent=2))
    else:
        for h in hits:
            author = rec.catalogue.author_line(h.book_id)
            print(f"{h.book_id:>6}  {h.title} — {author}  ({h.match:.0f})")
    return 0


def cmd_recommend(args) -> int:
    rec = _load_recommender(args)
    ratings: dict[int, int] = {}
    not_read: set[int] = set()
    read: set[int] = set()
    order: dict[str, bool] = {}
    if getattr(args, "profile", None):
        profile = _open_profile(args.profile)
        if not profile.path.exists():
            raise BookrecError(
                f"No profile '{args.profile}' yet ({profile.path}): rate books in the app "
                f"with `bookrec-tui --profile {args.profile}`, or import a Goodreads export."
            )
        ratings = {b: s for b, s in profile.ratings.items() if b in rec.catalogue}
        not_read = set(profile.not_read) | profile.hidden
        read, order = set(profile.read), dict(profile.series_order)
    given = dict(_parse_rate(rec, spec) for spec in args.rate)
    ratings.update(given)
    recs = rec.recommend(
        ratings, n=args.n, shelf=args.shelf, exclude=not_read, read=read, series_order=order
    )
    if args.json:
        rated = [
            {"book_id": b, "title": rec.catalogue.title(b), "stars": s} for b, s in given.items()
        ]
        print(
            json.dumps(
                {
                    "ratings": ratings,
                    "rated": rated,
                    "recommendations": [r.__dict__ for r in recs],
                },
                indent=2,
            )
        )
        return 0
    _say_rated(rec, given)
    for i, r in enumerate(recs, 1):
        print(f"{i:>2}. {wording.recommendation_line(r, ratings, rec.catalogue)}")
    return 0


def cmd_similar(args) -> int:
    rec = _load_recommender(args)
    book_id = _book(rec, " ".join(args.book), "similar")
    hits = rec.similar(book_id, args.n)
    from bookrec_tui.store.profile import Profile

    shelf = Profile.open(_profile_name(args)).ratings
    if args.json:
        print(
            json.dumps(
                {
                    "book_id": book_id,
                    "title": rec.catalogue.title(book_id),
                    "similar": [{**h.__dict__, "your_rating": shelf.get(h.book_id)} for h in hits],
                },
                indent=2,
            )
        )
    else:
        print(
            f"More like {rec.catalogue.title(book_id)} — {rec.catalogue.author_line(book_id)}"
            f" (id:{book_id}):"
        )
        for h in hits:
            mine = f"  [on your shelf: {shelf[h.book_id]}★]" if h.book_id in shelf else ""
            author = rec.catalogue.author_line(h.book_id)
            print(f"{h.book_id:>6}  {h.title} — {author}  ({h.score:.2f}){mine}")
    return 0


def cmd_import(args) -> int:
    from bookrec_tui.store.goodreads import plan_import

    catalogue = _load_catalogue(args)
    profile = _open_profile(_profile_name(args))
    plan = plan_import(args.path, catalogue, profile.ratings)
    print(f"{args.path}: {len(plan.entries)} books. {wording.import_counts(plan)}")
    if plan.by_rule:
        rules = ", ".join(f"{n} by {rule}" for rule, n in sorted(plan.by_rule.items()))
        print(f"  matched to the catalogue: {rules}")
    if plan.unmatched:
        print("  not in the catalogue, e.g. " + "; ".join(e.title for e in plan.unmatched[:3]))
    winner = "Goodreads' rating is used" if args.replace else "yours is kept"
    for b, (old, new) in list(plan.conflicts.items())[:10]:
        print(f"  conflict: {catalogue.title(b)}: you said {old}★, Goodreads {new}★ ({winner})")
    if len(plan.conflicts) > 10:
        print(f"  … and {len(plan.conflicts) - 10} more conflicts ({winner})")
    if plan.conflicts and not args.replace:
        print("  (add --replace to use the Goodreads ratings for these)")
    if plan.empty:
        print(f"{args.path}: {wording.import_nothing(plan)}")
        return 1
    if not args.yes:
        if not sys.stdin.isatty():
            raise BookrecError("Not importing without confirmation: add --yes.")
        if input(f"Import into profile '{_profile_name(args)}'? [y/N] ").strip().lower() not in (
            "y",
            "yes",
        ):
            print("Nothing imported.")
            return 1
    ratings, skipped = plan.apply(profile, args.replace)
    print(
        f"{wording.import_done(plan, ratings, skipped)} Profile '{_profile_name(args)}' now "
        f"has {len(profile.ratings)} ratings."
    )
    return 0


def cmd_map(args) -> int:
    from bookrec_tui.fsutil import check_output_file
    from bookrec_tui.map.image import render_png, require_matplotlib
    from bookrec_tui.map.regions import build_map
    from bookrec_tui.progress import console, progress_bar

    require_matplotlib()
    check_output_file(args.out)
    rec = _load_recommender(args)
    if args.rate:
        ratings, whose = dict(_parse_rate(rec, spec) for spec in args.rate), "given with --rate"
    else:
        name = _profile_name(args)
        mine = _open_profile(name).ratings
        ratings = {b: s for b, s in mine.items() if b in rec.catalogue}
        whose = f"profile '{name}'"
    with progress_bar(f"map ({args.method})", None) as update:
        book_map = build_map(rec.bundle, rec.catalogue, args.method, update)
    recs = [r.book_id for r in rec.recommend(ratings, n=args.recs)] if args.recs else []
    render_png(book_map, rec.catalogue, args.out, ratings, recs)
    console.print(
        f"wrote {args.out}: {len(book_map.xy):,} books, {len(ratings)} of yours "
        f"({whose}), {len(recs)} recommendations; regions: "
        + ", ".join(c.label for c in book_map.clusters[:5])
    )
    return 0


def cmd_export(args) -> int:
    from bookrec_tui.fsutil import check_output_file
    from bookrec_tui.store.profile import save_ratings_csv, write_ratings_csv

    if args.out is not None:
        check_output_file(args.out)
    catalogue = _load_catalogue(args)
    profile = _open_profile(_profile_name(args))
    if args.out is None:
        write_ratings_csv(profile, catalogue, sys.stdout)
        return 0
    n = save_ratings_csv(profile, catalogue, args.out)
    print(f"Wrote {n} ratings from profile '{_profile_name(args)}' to {args.out}", file=sys.stderr)
    return 0


def _require_training_extra(tensorflow: bool = True) -> None:
    """Training and evaluation need Keras and its backend (the ``train`` extra brings
    TensorFlow). The embedding model also trains where Keras runs on another backend
    (``KERAS_BACKEND=jax`` on a machine without TensorFlow): ``tensorflow=False``; the link
    model, tf.distribute and the evaluation use TensorFlow itself."""
    import importlib.util

    from bookrec_tui.training.keras_backend import TRAIN_HINT

    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    needed = dict.fromkeys(["keras", backend, *(["tensorflow"] if tensorflow else [])])
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        raise BookrecError(
            f"This needs {' and '.join(missing)}, which the app does not: {TRAIN_HINT}"
        )


def cmd_train(args) -> int:
    from bookrec_tui.fsutil import check_output_folder
    from bookrec_tui.progress import console
    from bookrec_tui.store.goodbooks import load_dataset
    from bookrec_tui.training.run import save_outputs

    model = args.model or "embeddings"
    _require_training_extra(tensorflow=model == "links" or bool(args.distribute))
    check_output_folder(args.out)
    if args.distribute and model != "embeddings":
        raise BookrecError("--distribute trains the embedding model: --model embeddings.")
    if args.to_read_weight is not None and (model != "embeddings" or args.to_read_weight < 0):
        raise BookrecError(
            "--to-read-weight (0 or more) is a setting of the embedding model: --model embeddings."
        )
    # Made before the data is read: a broken TF_CONFIG fails now, and the CPU is split
    # before TensorFlow starts.
    strategy = _strategy(args) if args.distribute else None
    reads = None
    if args.catalogue == "goodreads":
        dataset, reads = _goodreads_dataset(args, console, use_reads=strategy is not None)
    else:
        books_dir = args.books.parent if args.books else None
        if args.books and args.books.name != "books.csv":
            raise BookrecError(
                "--books must point at a file named books.csv (tags are read beside it)."
            )
        dataset = load_dataset(_data_dir(args), ratings_path=args.ratings, books_dir=books_dir)
    console.print(
        f"{len(dataset.ratings):,} ratings from {dataset.ratings.n_users:,} readers "
        f"({dataset.ratings.schema} schema, {dataset.ratings.duplicates_dropped:,} "
        "duplicate pairs dropped)"
    )
    if model == "embeddings":
        bundle, keras_models = _train_embeddings(dataset, args, strategy, reads)
    else:
        bundle, keras_models = _train_links(dataset, args)
    if strategy is not None:
        from bookrec_tui.training.distribute import is_chief

        if not is_chief(strategy):
            console.print("trained; this worker is not the chief, which writes the model")
            return 0
    source = "goodreads" if args.catalogue == "goodreads" else "goodbooks-10k"
    paths = save_outputs(bundle, keras_models, args.out, dataset.catalogue, source)
    from bookrec_tui.chat.opening import OPENING_NAME, write_opening
    from bookrec_tui.core.recommender import Recommender

    # A new reader's first question, on screen before this model has loaded.
    paths["opening"] = write_opening(
        Recommender(bundle, dataset.catalogue), Path(args.out) / OPENING_NAME
    )
    console.print(
        f"trained in {bundle.meta['training']['seconds']:.0f}s; wrote "
        + ", ".join(str(p) for p in paths.values())
    )
    return 0


def _train_links(dataset, args):
    from bookrec_tui.progress import progress_bar
    from bookrec_tui.training.model import TrainConfig
    from bookrec_tui.training.run import train_bundle

    cfg = TrainConfig(seed=args.seed)
    if args.epochs:
        cfg.epochs = args.epochs
    if args.dim:
        cfg.dim = args.dim
    with progress_bar("training", None) as update:

        def progress(done, total, logs):
            rank = logs["rank_loss"]
            phase = f"rank {rank:.3f} " if rank == rank else ""  # NaN: rating-head epochs
            update(
                done,
                total,
                f"epoch {logs['epoch']}/{cfg.epochs + cfg.rating_epochs} "
                f"{phase}mse {logs['mse']:.3f}",
            )

        return train_bundle(dataset, cfg, progress)


def _strategy(args):
    from bookrec_tui.training.distribute import make_strategy, split_cpu

    if args.cpu_replicas > 1:
        if args.distribute != "mirrored":
            raise BookrecError("--cpu-replicas splits this machine's CPU: --distribute mirrored.")
        split_cpu(args.cpu_replicas)
    return make_strategy(args.distribute)


def _train_embeddings(dataset, args, strategy=None, reads=None):
    """The embedding model; with a ``strategy``, its book table is trained by
    ``distribute.fit_embeddings`` (the tf.data pipeline; ``reads``: read-unrated pairs)."""
    from functools import partial

    from bookrec_tui.progress import progress_bar
    from bookrec_tui.training.embedding_bundle import EmbeddingModelConfig
    from bookrec_tui.training.run import train_embedding_bundle

    cfg = EmbeddingModelConfig(seed=args.seed)
    cfg.embeddings.seed = args.seed
    if args.epochs:
        cfg.embeddings.epochs = args.epochs
    if args.dim:
        cfg.embeddings.dim = args.dim
    if args.to_read_weight is not None:
        cfg.embeddings.to_read_weight = args.to_read_weight
    with progress_bar("training", None) as update:

        def progress(done, total, logs):
            update(done, total, f"{logs['phase']} epoch {logs['epoch']}/{logs['epochs']}")

        trainer = None
        if strategy is not None:
            from bookrec_tui.training.distribute import fit_embeddings

            trainer = partial(fit_embeddings, strategy=strategy, reads=reads)
        bundle, models = train_embedding_bundle(dataset, cfg, progress, trainer)
    _say_blend(bundle.meta["training"]["history"])
    return bundle, models


def _say_blend(history: list[dict]) -> None:
    """The link blend the validation readers chose, and a warning when it is at an end of
    the grid tried (a better one may lie past it)."""
    from bookrec_tui.progress import console

    for row in history:
        if row.get("phase") == "link blend":
            note = (
                f" (the {row['edge']} tried: a better blend may lie past the grid)"
                if row["edge"]
                else ""
            )
            console.print(f"link blend {row['chosen']:g}, chosen on validation readers{note}")


def _goodreads_dataset(args, console, use_reads: bool = False):
    """The UCSD Goodreads files in --data-dir, subsampled as asked (see bookgraph.py), and
    the read-unrated pairs (reader ids, catalogue rows) if the trainer uses them."""
    from bookrec_tui.paths import resolve_data_dir
    from bookrec_tui.store.bookgraph import Subsample, load_bookgraph

    if args.ratings or args.books:
        raise BookrecError("--ratings/--books are for goodbooks; goodreads reads --data-dir.")
    data_dir = resolve_data_dir(_data_dir(args))
    subsample = Subsample(min_ratings=args.min_ratings, max_books=args.max_books)
    with console.status("reading the Goodreads data") as status:
        graph = load_bookgraph(data_dir, subsample, progress=status.update)
    s = graph.stats
    console.print(
        f"{s['works_kept']:,} of {s['works_in_data']:,} works kept; {s['ratings']:,} ratings "
        f"({s['edition_duplicates_merged']:,} on a second edition of a work merged), "
        f"{s['read_unrated']:,} read without a rating "
        + ("(used as reads)" if use_reads else "(used by --distribute training only)")
    )
    if not use_reads:
        return graph.dataset, None
    rows = graph.dataset.catalogue.rows(graph.read_book_ids)
    return graph.dataset, (graph.read_user_ids, rows)


def cmd_evaluate(args) -> int:
    _require_training_extra()
    from bookrec_tui.evaluation.run import run_evaluation
    from bookrec_tui.fsutil import check_output_file

    out = args.out
    if out is None:
        out = DEFAULT_REPORT
        out.parent.mkdir(parents=True, exist_ok=True)
    check_output_file(out)
    config = EvaluationConfig(
        out=out,
        only=args.only,
        users=args.users,
        skip_tutorial_protocol=args.skip_tutorial_protocol,
        exports=Path(args.exports) if args.exports else None,
        min_rated=args.min_rated,
        orders=args.orders,
        epochs=args.epochs,
        data_dir=getattr(args, "data_dir", None),
        model_dir=getattr(args, "model_dir", None),
        model=getattr(args, "model", "embeddings"),
    )
    return run_evaluation(config)


def cmd_data(args) -> int:
    if args.data_command == "fetch":
        from bookrec_tui.paths import resolve_data_dir
        from bookrec_tui.progress import progress_bar
        from bookrec_tui.store.fetch import ARCHIVE_NAME, fetch_goodbooks

        dest = args.dest or resolve_data_dir(None)
        with progress_bar(f"downloading {ARCHIVE_NAME}", None) as update:
            fetch_goodbooks(
                dest,
                base_url=args.base_url,
                retries=args.retries,
                progress=update,
                deadline_s=args.deadline,
            )
        print(f"goodbooks-10k is ready in {dest}")
        return 0
    from bookrec_tui.paths import resolve_data_dir
    from bookrec_tui.store.goodbooks import load_catalogue, load_dataset

    if args.data_command == "pack-maps":
        from bookrec_tui.core.bundle import Bundle
        from bookrec_tui.core.recommender import default_bundle_path
        from bookrec_tui.map.projection import pack_projections
        from bookrec_tui.progress import progress_bar

        bundle = Bundle.load(default_bundle_path(getattr(args, "model_dir", None) or args.out))
        with progress_bar("projections", None) as update:
            packed = pack_projections(bundle, args.out, update)
        print(f"wrote {packed['path']}: {', '.join(packed['methods'])}")
        return 0
    base = resolve_data_dir(_data_dir(args))
    if args.data_command == "pack-catalogue":
        from bookrec_tui.fsutil import check_output_folder
        from bookrec_tui.store.packed_catalogue import PACKED_NAME, pack_catalogue

        check_output_folder(args.out)
        catalogue = load_catalogue(base)
        path = pack_catalogue(catalogue, args.out / PACKED_NAME)
        print(f"wrote {path}: {len(catalogue):,} books, {path.stat().st_size / 1e6:.1f} MB")
        from bookrec_tui.chat.opening import OPENING_NAME, write_opening
        from bookrec_tui.core.bundle import BUNDLE_NAME, Bundle
        from bookrec_tui.core.recommender import Recommender

        if (args.out / BUNDLE_NAME).is_file():
            rec = Recommender(Bundle.load(args.out / BUNDLE_NAME), catalogue)
            opening = write_opening(rec, args.out / OPENING_NAME)
            print(f"wrote {opening}: a new reader's first question")
        return 0
    ds = load_dataset(base)
    print(
        json.dumps(
            {
                "data_dir": str(base),
                "books": len(ds.catalogue),
                "ratings": len(ds.ratings),
                "readers": ds.ratings.n_users,
                "schema": ds.ratings.schema,
                "duplicates_dropped": ds.ratings.duplicates_dropped,
                "to_read": 0 if ds.to_read is None else len(ds.to_read[0]),
            },
            indent=2,
        )
    )
    return 0


def cmd_app(args) -> int:
    from bookrec_tui.tui.app import run_app

    return run_app(data_dir=_data_dir(args), model_dir=args.model_dir, profile=_profile_name(args))


COMMANDS = {
    "import": cmd_import,
    "export": cmd_export,
    "map": cmd_map,
    "search": cmd_search,
    "recommend": cmd_recommend,
    "similar": cmd_similar,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "data": cmd_data,
}


@contextlib.contextmanager
def _sigterm_unwinds(active: bool):
    """While active, SIGTERM unwinds like Ctrl+C, so temporary and ``.part`` files are
    removed on the way out (the default action kills the process where it stands)."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = None
    if active:
        with contextlib.suppress(ValueError):  # only the main thread may set handlers
            previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with _sigterm_unwinds(active=args.command is not None):  # the app handles its own
            return (COMMANDS[args.command] if args.command else cmd_app)(args)
    except BookrecError as exc:
        print(f"bookrec-tui: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bookrec-tui: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `bookrec-tui export | head`: the reader has what they wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # a full disk, a folder that vanished: say so, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"bookrec-tui: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
