"""Creating and opening sites: by str, by pathlib.Path, via $LIBRARIAN_CONFIG and
./librarian.toml."""

import pathlib

import pytest

import librarian


def test_init_by_str_then_open_by_str(tmp_path, src):
    d = str(tmp_path / "site")
    lib = librarian.Librarian.init(d, name="site-a")
    assert lib.name == "site-a"
    assert isinstance(lib.config_path, pathlib.Path)
    assert lib.config_path == tmp_path.resolve() / "site" / "librarian.toml"
    assert lib.config_path.is_file()
    lib.upload(src, "x/obs")

    again = librarian.Librarian(str(lib.config_path))
    assert again.name == "site-a"
    assert again.file("x/obs").size == 10_000


def test_init_by_path_then_open_by_path(tmp_path):
    lib = librarian.Librarian.init(tmp_path / "site", name="site-b")
    again = librarian.Librarian(tmp_path / "site" / "librarian.toml")
    assert again.name == "site-b"
    assert again.config_path == lib.config_path
    assert [s.name for s in again.stores()] == ["main"]


def test_init_name_positional_and_relative_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lib = librarian.Librarian.init("rel", "site-c")
    assert lib.config_path == tmp_path.resolve() / "rel" / "librarian.toml"


def test_open_via_environment(tmp_path, monkeypatch):
    lib = librarian.Librarian.init(tmp_path / "site", name="site-env")
    monkeypatch.chdir(tmp_path)  # no librarian.toml here
    monkeypatch.setenv("LIBRARIAN_CONFIG", str(lib.config_path))
    assert librarian.Librarian().name == "site-env"
    assert librarian.Librarian(None).name == "site-env"


def test_open_from_current_directory(tmp_path, monkeypatch):
    librarian.Librarian.init(tmp_path / "site", name="site-cwd")
    monkeypatch.delenv("LIBRARIAN_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path / "site")
    assert librarian.Librarian().name == "site-cwd"


def test_explicit_config_beats_environment(tmp_path, monkeypatch):
    a = librarian.Librarian.init(tmp_path / "a", name="site-a")
    b = librarian.Librarian.init(tmp_path / "b", name="site-b")
    monkeypatch.setenv("LIBRARIAN_CONFIG", str(a.config_path))
    assert librarian.Librarian(b.config_path).name == "site-b"


def test_open_missing_config_is_not_found(tmp_path, monkeypatch):
    monkeypatch.delenv("LIBRARIAN_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(librarian.NotFound) as e:
        librarian.Librarian()
    assert e.value.code == "not_found"
    assert "librarian.toml" in str(e.value)


def test_malformed_config_is_config_error(tmp_path):
    cfg = tmp_path / "librarian.toml"
    cfg.write_text("name = [\n")
    with pytest.raises(librarian.ConfigError) as e:
        librarian.Librarian(cfg)
    assert e.value.code == "config"


def test_init_twice_is_already_exists(tmp_path):
    librarian.Librarian.init(tmp_path / "site", name="site-a")
    with pytest.raises(librarian.AlreadyExists) as e:
        librarian.Librarian.init(tmp_path / "site", name="site-a")
    assert e.value.code == "already_exists"


def test_bad_site_name_is_refused(tmp_path):
    with pytest.raises(librarian.InvalidArgument) as e:
        librarian.Librarian.init(tmp_path / "site", name="bad name/with slash")
    assert isinstance(e.value, ValueError)
    assert e.value.code == "invalid_argument"
    assert not (tmp_path / "site" / "librarian.toml").exists()


def test_config_must_be_path_like(tmp_path):
    with pytest.raises(TypeError):
        librarian.Librarian(42)


def test_repr(site):
    assert repr(site).startswith("Librarian(name='site-a', config_path=")
