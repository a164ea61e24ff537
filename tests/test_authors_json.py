"""The authors' tracked_bounding_boxes.json: export, import, malformed files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ddlcore.data.boxes_io import BoxTable, read_boxes, write_boxes
from ddlcore.cli.main import main
from ddlcore.data.framestore import write_frame_store
from ddlcore.errors import DDLError
from ddlcore.track.authors_json import load_authors_json, parse_frame_key, tracks_from_json

H, W, N = 48, 80, 25


def tracks(video: str, seed: int) -> BoxTable:
    rng = np.random.default_rng(seed)
    rows = []
    for tid in (1, 2, 3):
        for t in range(rng.integers(0, 5), rng.integers(15, N)):
            x0, y0 = rng.uniform(0, W - 10), rng.uniform(0, H - 10)
            rows.append((t, tid, [x0, y0, x0 + rng.uniform(2, 10), y0 + rng.uniform(2, 10)]))
    return BoxTable.from_rows(rows, N, H, W, "tracks", {"video": video})


def store(path, video):
    frames = np.zeros((N, H, W, 1), np.uint8)
    write_frame_store(path, iter(frames), N, H, W, 1, {"source": "t", "original_height": H, "original_width": W,
                                                       "fps": 25.0, "video": video, "scene": "s"})
    return path


@pytest.mark.parametrize("first_index", [0, 1])
def test_export_then_import_gives_the_same_tracks(tmp_path, first_index):
    originals = {"01": tracks("01", 1), "02": tracks("02", 2)}
    for name, table in originals.items():
        write_boxes(tmp_path / f"{name}.h5", table)
    out = tmp_path / "tracked_bounding_boxes.json"
    assert main(["export-boxes", "--tracks", str(tmp_path / "01.h5"), str(tmp_path / "02.h5"), "--out", str(out),
                 "--first-index", str(first_index)]) == 0
    data = json.loads(out.read_text())
    key = f"01/{first_index + int(originals['01'].frame[0]):04d}.jpg"
    assert key in data
    first_box = data[key][str(originals["01"].ident[0])]["box"]
    np.testing.assert_allclose(first_box, originals["01"].box[0] / [W, H, W, H], rtol=1e-6)
    assert all(0 <= v <= 1 for frame in data.values() for t in frame.values() for v in t["box"])
    for name, original in originals.items():
        imported_path = tmp_path / f"{name}_imported.h5"
        assert main(["import-boxes", "--json", str(out), "--frames", str(store(tmp_path / f"{name}_f.h5", name)),
                     "--out", str(imported_path), "--first-index", str(first_index)]) == 0
        imported = read_boxes(imported_path, kind="tracks")
        assert (imported.n_frames, imported.height, imported.width) == (N, H, W)
        np.testing.assert_array_equal(imported.frame, original.frame)
        np.testing.assert_array_equal(imported.ident, original.ident)
        np.testing.assert_allclose(imported.box, original.box, atol=1e-4)


def test_frame_keys_of_other_layouts():
    assert parse_frame_key("01/0007.jpg") == ("01", 7)
    assert parse_frame_key("/data/ped2/training/frames/04/012.jpg") == ("04", 12)
    assert parse_frame_key("C:\\avenue\\frames\\train\\16\\frame_0100.png") == ("16", 100)
    assert parse_frame_key("0007.jpg") is None
    data = {"/x/frames/05/3.jpg": {"0": [0.1, 0.2, 0.3, 0.4]}, "/x/frames/05/1.jpg": {"40": [0, 0, 0.5, 0.5],
                                                                                          "0": [0.1, 0.1, 0.2, 0.2]},
            "/x/frames/06/1.jpg": {"-3": [0, 0, 1, 1]}}
    table = tracks_from_json(data, "05", 4, 10, 20, first_index=1)
    assert table.frame.tolist() == [0, 0, 2]
    assert table.ident.tolist() == [1, 41, 1]  # ids shifted so that the smallest (0) becomes 1
    np.testing.assert_allclose(table.box[2], [2, 2, 6, 4])
    with pytest.raises(DDLError, match="frame '/x/frames/05/3.jpg' is frame 3 of video 05, which has 3 frames"):
        tracks_from_json(data, "05", 3, 10, 20, first_index=0)


@pytest.mark.parametrize("content, problem", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "top level must be an object of frame paths, got list"),
    ('{"01/0.jpg": [1]}', "frame '01/0.jpg': expected an object of track ids, got list"),
    ('{"01/0.jpg": {"a": {"box": [0, 0, 1, 1]}}}', "track 'a': track id is not an integer"),
    ('{"01/0.jpg": {"1": {"box": [0, 0, 1]}}}', "track '1': expected {\"box\": [x_min, y_min, x_max, y_max]}"),
    ('{"01/0.jpg": {"1": {"bbox": [0, 0, 1, 1]}}}', "track '1': expected {\"box\""),
    ('{"01/0.jpg": {"1": {"box": [0, 0, "1", 1]}}}', "with 4 finite numbers"),
    ('{"01/0.jpg": {"1": {"box": [0.5, 0, 0.2, 1]}}}', "x_max < x_min"),
])
def test_malformed_files_one_line_naming_file_and_problem(tmp_path, capsys, content, problem):
    path = tmp_path / "boxes.json"
    path.write_text(content)
    with pytest.raises(DDLError) as err:
        load_authors_json(path)
    assert str(err.value).startswith(f"{path}: ") and problem in str(err.value)
    assert "\n" not in str(err.value)
    frames = store(tmp_path / "f.h5", "01")
    assert main(["import-boxes", "--json", str(path), "--frames", str(frames), "--out", str(tmp_path / "o.h5")]) == 1
    assert capsys.readouterr().err.strip().startswith(f"error: {path}: ")
    assert not (tmp_path / "o.h5").exists()
