"""``ddl export-boxes``: its arguments and how they call :mod:`ddlcore.track.authors_json`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..data.framestore import FrameStore
from ..data.boxes_io import read_boxes, write_boxes
from ..io_utils import atomic_path
from ..track.authors_json import load_authors_json, tracks_from_json, tracks_to_json


def _first_index_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--first-index", type=int, default=0, metavar="N",
                        help="frame number of a video's first frame in the keys (default 0)")


def _export(args: argparse.Namespace) -> None:
    tables = {}
    for path in args.tracks:
        table = read_boxes(path, kind="tracks")
        tables[str(table.attrs.get("video") or Path(path).stem)] = table
    data = tracks_to_json(tables, args.first_index, args.digits)
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(data))


def _import(args: argparse.Namespace) -> None:
    data = load_authors_json(args.json)
    with FrameStore(args.frames) as store:
        n, height, width, _ = store.shape
        video = args.video or str(store.attrs.get("video") or Path(args.frames).stem)
        attrs = {k: store.attrs[k] for k in ("dataset", "split", "scene") if k in store.attrs}
    table = tracks_from_json(data, video, n, height, width, args.first_index, source=str(args.json))
    table.attrs = {**attrs, "video": video, "backend": "authors_json", "source": str(args.json)}
    write_boxes(args.out, table)
    if len(table) == 0:
        print(f"warning: video {video}: {args.json} has no boxes for it (keys are read as <video>/<number>.<ext>)",
              file=sys.stderr)


def configure_export_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl export-boxes``."""
    parser.add_argument("--tracks", nargs="+", required=True, metavar="PATH", help="tracks files (.h5)")
    parser.add_argument("--out", required=True, metavar="PATH", help="JSON file to write")
    _first_index_arg(parser)
    parser.add_argument("--digits", type=int, default=4, metavar="N", help="zero padding of frame numbers (default 4)")
    parser.set_defaults(func=_export)


def configure_import_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl import-boxes``."""
    parser.add_argument("--json", required=True, metavar="PATH", help="tracked_bounding_boxes.json")
    parser.add_argument("--frames", required=True, metavar="PATH", help="the video's frame store (.h5): size and length")
    parser.add_argument("--video", metavar="NAME", help="video name in the keys (default: the frame store's)")
    parser.add_argument("--out", required=True, metavar="PATH", help="tracks file to write (.h5)")
    _first_index_arg(parser)
    parser.set_defaults(func=_import)
