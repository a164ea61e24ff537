"""A watcher that runs for months (issue 36): hand-edited calibrations, bad durations, the page's banner and the
authentication scheme's case."""

from __future__ import annotations

import http.client
import json
import socket

import h5py
import numpy as np
import pytest

from ddlcore.alarm.calibration import Calibration, load_calibration, save_calibration
from ddlcore.alarm.settings import AlarmSettings
from ddlcore.cli.main import main
from ddlcore.config import load_config
from ddlcore.errors import DDLError
from ddlcore.live.page_state import LiveState
from ddlcore.live.server import PageSettings, start_server
from ddlcore.live.settings import LiveSettings


@pytest.fixture
def calibration_file(tmp_path):
    """A valid calibration file for a 32x32 gray model."""
    alarm = AlarmSettings.from_config(load_config(None, "{}"))
    path = tmp_path / "m.alarm.h5"
    save_calibration(Calibration("m.pt", 0.5, 10.0, 3, alarm, {"patch": 8, "shifted_grid": False}, None,
                                 {"v": np.zeros(20, np.float32)}, size=(32, 32, 1)), path)
    return path


@pytest.mark.parametrize("attribute, value, message", [
    ("threshold", float("nan"), "threshold nan is not a finite positive number"),
    ("threshold", float("inf"), "threshold inf is not a finite positive number"),
    ("threshold", -0.2, "threshold -0.2 is not a finite positive number"),
    ("fps", 0.0, "frame rate 0.0 and clip length 3 must be positive"),
    ("height", 1_000_000, "frame size 1000000x32x1 is not a model's"),
])
def test_a_damaged_calibration_is_refused_when_it_is_read(calibration_file, attribute, value, message):
    assert load_calibration(calibration_file).threshold == 0.5  # as written, it reads
    with h5py.File(calibration_file, "a") as f:
        f.attrs[attribute] = value
    with pytest.raises(DDLError, match=message) as refused:
        load_calibration(calibration_file)
    assert str(calibration_file) in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("argv", [["record", "0", "--out", "x", "--minutes", "-1"],
                                  ["record", "0", "--out", "x", "--minutes", "nan"],
                                  ["watch", "0", "--model", "m.pt", "--duration", "nan"],
                                  ["watch", "0", "--model", "m.pt", "--duration", "0"]])
def test_a_duration_that_is_not_a_finite_positive_number_is_refused(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert "is not a finite number above 0" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_page_names_no_python_version_and_takes_the_bearer_scheme_in_any_case():
    live = LiveSettings.from_config(load_config(None, json.dumps({})))
    address = f"127.0.0.1:{_free_port()}"
    server = start_server(address, {"": LiveState("cam", 0.5, 100, 5)}, PageSettings.build(live, address, token="s3cret"))
    port = int(address.rsplit(":", 1)[1])

    def get(headers: dict) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/state.json", headers=headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response

    try:
        for scheme in ("Bearer", "bearer", "BEARER"):
            assert get({"Authorization": f"{scheme} s3cret"}).status == 200
        refused = get({"Authorization": "Basic s3cret"})
        assert refused.status == 401
        assert "Python" not in refused.getheader("Server", "") and refused.getheader("Server") == "ddl-watch"
    finally:
        server.shutdown()
        server.server_close()


def test_watch_of_a_model_folder_or_a_missing_model_names_it(tmp_path, capsys):
    (tmp_path / "models").mkdir()
    assert main(["watch", "0", "--model", str(tmp_path / "models")]) == 1
    assert capsys.readouterr().err.strip() == f"error: --model {tmp_path / 'models'}: a folder, not a model file (M.pt)"
    assert main(["watch", "0", "--model", str(tmp_path / "m.pt")]) == 1
    assert capsys.readouterr().err.strip() == f"error: --model {tmp_path / 'm.pt'}: not found"


def test_a_camera_root_without_camera_folders_says_so_and_points_to_no_warning(tmp_path):
    from ddlcore.data.cameras import CamerasDataset, CameraSettings

    with pytest.raises(DDLError, match=r"no camera folder in it \(one folder per camera") as refused:
        CamerasDataset(tmp_path, CameraSettings(0.2, 10.0, 3))
    assert "warnings above" not in str(refused.value)
