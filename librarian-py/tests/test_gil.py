"""Long calls release the GIL: a pure-Python thread keeps counting while another
thread uploads (and verifies) a ~200 MB file."""

import shutil
import threading
import time

import pytest

import librarian

SIZE = 200 * 1024 * 1024


def write_big(path):
    block = bytes(range(256)) * 4096  # 1 MiB
    with open(path, "wb") as f:
        for i in range(SIZE // len(block)):
            f.write(block[i % 256 :] + block[: i % 256])


def run_while_counting(call):
    """Run `call` in a worker thread while this thread's sibling counts; return the
    call's duration and the counter ticks seen strictly inside it."""
    stop = threading.Event()
    ticks = []

    def count():
        n = 0
        while not stop.is_set():
            n += 1
            if n % 100 == 0:
                ticks.append(time.monotonic())

    counter = threading.Thread(target=count)
    counter.start()
    try:
        time.sleep(0.05)  # let the counter get going
        window = {}

        def work():
            window["start"] = time.monotonic()
            window["result"] = call()
            window["end"] = time.monotonic()

        worker = threading.Thread(target=work)
        worker.start()
        worker.join()
    finally:
        stop.set()
        counter.join()
    start, end = window["start"], window["end"]
    # Ignore the edges: a thread holding the GIL still lets others run for one
    # switch interval (5 ms) around the call.
    margin = 0.1 * (end - start)
    inside = [t for t in ticks if start + margin < t < end - margin]
    return end - start, inside, window["result"]


@pytest.fixture
def big(tmp_path):
    path = tmp_path / "big.dat"
    write_big(path)
    yield path
    # pytest keeps recent temporary directories: do not leave 400 MB behind
    path.unlink(missing_ok=True)
    shutil.rmtree(tmp_path / "site", ignore_errors=True)


def test_upload_and_verify_release_the_gil(site, big):
    took, inside, f = run_while_counting(lambda: site.upload(big, "2026/big.dat"))
    assert isinstance(f, librarian.File) and f.size == SIZE
    assert took > 0.05, f"upload too quick ({took:.3f} s) to tell"
    assert len(inside) >= 10, f"counter ticked {len(inside)} times during a {took:.2f} s upload"

    took, inside, report = run_while_counting(lambda: site.verify("2026/big.dat"))
    assert report.ok
    assert took > 0.02, f"verify too quick ({took:.3f} s) to tell"
    assert len(inside) >= 10, f"counter ticked {len(inside)} times during a {took:.2f} s verify"
