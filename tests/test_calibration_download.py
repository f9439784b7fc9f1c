"""calibration.download against a local HTTP server on loopback (no internet in tests)."""

from __future__ import annotations

import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import calibration
from calibration.download import DownloadError, main
from calibration.sources import load_cftc_tff, raw_path
from calibration.sources.raw import sha256_bytes

FILES: dict[str, bytes] = {}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = FILES.get(self.path.split("?")[0])
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_download_a_shipped_extract_recuts_it_and_checks_sha256(server, tmp_path) -> None:
    # The fixture plays the publisher's file: the shipped extract is itself a valid FRED
    # CSV, so cutting it again must give the shipped bytes.
    original = raw_path("fred/DGS10_2019-2025.csv").read_bytes()
    FILES["/fredgraph.csv"] = original
    got = calibration.download("fred/DGS10_2019-2025.csv", tmp_path, url=f"{server}/fredgraph.csv")
    assert got.sha256 == sha256_bytes(original)
    assert got.path.read_bytes() == original
    assert got.size_bytes == len(original)
    assert got.matches_shipped is True
    assert got.extract.read_bytes() == original
    assert got.url.startswith("http://127.0.0.1:")


def test_download_a_changed_file_reports_a_mismatch(server, tmp_path) -> None:
    text = (
        raw_path("fred/DGS10_2019-2025.csv")
        .read_text()
        .replace("2020-03-09,0.54", "2020-03-09,0.5")
    )
    FILES["/changed.csv"] = text.encode()
    got = calibration.download("fred/DGS10_2019-2025.csv", tmp_path, url=f"{server}/changed.csv")
    assert got.matches_shipped is False


def test_download_cftc_zip_is_unpacked(server, tmp_path) -> None:
    txt = raw_path("cftc_tff/FinFut20_treasury.txt").read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("FinFutYY.txt", txt)
    FILES["/fut_fin_txt_2020.zip"] = buf.getvalue()
    got = calibration.download(
        "cftc_tff", tmp_path, year=2020, url=f"{server}/fut_fin_txt_2020.zip"
    )
    assert got.path.name == "FinFutYY.txt"
    assert got.sha256 == sha256_bytes(txt)
    assert len(load_cftc_tff(got.path)) > 0


def test_http_error_names_url_and_status_and_writes_nothing(server, tmp_path) -> None:
    dest = tmp_path / "out"
    with pytest.raises(DownloadError, match=r"127\.0\.0\.1:\d+/missing\.csv: HTTP 404"):
        calibration.download("fred", dest, series="DGS10", url=f"{server}/missing.csv")
    assert not dest.exists()


def test_size_cap(server, tmp_path) -> None:
    FILES["/big.csv"] = b"DATE,X\n" + b"2020-01-01,1\n" * 1000
    with pytest.raises(DownloadError, match="exceeds the cap"):
        calibration.download("fred", tmp_path, series="X", url=f"{server}/big.csv", max_bytes=100)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_and_bad_arguments(tmp_path) -> None:
    with pytest.raises(DownloadError, match="cannot reach"):
        calibration.download("fred", tmp_path, series="X", url="http://127.0.0.1:9/x", timeout_s=2)
    with pytest.raises(DownloadError, match="needs the parameter 'series'"):
        calibration.download("fred", tmp_path)
    with pytest.raises(DownloadError, match="only http"):
        calibration.download("fred", tmp_path, series="X", url="file:///etc/passwd")


def test_cli_exit_code_2_on_http_failure(server, tmp_path, capsys) -> None:
    code = main(["fred", str(tmp_path / "o"), "--series", "DGS10", "--url", f"{server}/nope"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith("error: ") and "HTTP 404" in captured.err
    assert "Traceback" not in captured.err
    assert not (tmp_path / "o").exists()
    FILES["/ok.csv"] = b"DATE,DGS10\n2020-03-09,0.54\n"
    assert (
        main(["fred", str(tmp_path / "o"), "--series", "DGS10", "--url", f"{server}/ok.csv"]) == 0
    )
    assert Path(tmp_path / "o" / "DGS10.csv").read_bytes() == FILES["/ok.csv"]
