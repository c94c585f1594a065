"""``upload(..., report=True)`` says whether new data was committed."""

import librarian


def test_upload_report_tells_new_data_from_bytes_already_there(tmp_path):
    site = librarian.Librarian.init(tmp_path / "site", name="site-a")
    src = tmp_path / "obs.dat"
    src.write_bytes(b"photons")
    first = site.upload(src, "2026/obs.dat", report=True)
    assert isinstance(first, librarian.Upload)
    assert first.status == "ingested" and first.file.name == "2026/obs.dat" and first.file.size == 7
    again = site.upload(src, "2026/obs.dat", report=True)
    assert again.status == "already_present"
    assert again.file == first.file
    assert "already_present" in repr(again)
    # Without report: the File, as before.
    plain = site.upload(src, "2026/obs.dat")
    assert isinstance(plain, librarian.File) and plain == first.file
