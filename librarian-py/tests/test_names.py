"""Every rejected name form raises librarian.InvalidName (a LibrarianError and a
ValueError, code "invalid_name") naming the broken rule, and changes nothing."""

import pytest

import librarian

BAD_NAMES = {
    "absolute": ("/abs/obs.dat", "absolute"),
    "parent": ("a/../b", "'..'"),
    "parent_alone": ("..", "'..'"),
    "parent_leading": ("../escape", "'..'"),
    "current": ("a/./b", "'.' segment"),
    "current_alone": (".", "'.' segment"),
    "empty_segment": ("a//b", "empty segment"),
    "trailing_slash": ("a/b/", "ends with '/'"),
    "backslash": ("a\\b", "backslash"),
    "nul": ("a\0b", "NUL"),
    "control": ("a\x01b", "U+0001"),
    "newline": ("a\nb", "U+000A"),
    "delete": ("a\x7fb", "U+007F"),
    "c1_control": ("a\x85b", "U+0085"),
    "too_long": ("x" * 1025, "1025 bytes"),
    "too_long_multibyte": ("é" * 513, "1026 bytes"),
    "empty": ("", "empty"),
    "not_utf8_surrogate": ("a\udcffb", "UTF-8"),
    "not_utf8_bytes": (b"a\xffb", "UTF-8"),
    # Look-alikes (docs/security.md "Names: look-alikes"): refused, never normalised.
    "bidi_override": ("n/evil\u202etxt.exe", "U+202E"),
    "zero_width_space": ("n/caf\u200be", "U+200B"),
    "nfd": ("n/cafe\u0301", "NFC"),
    "fullwidth_solidus": ("n\uff0fcaf\u00e9", "U+FF0F"),
}


@pytest.mark.parametrize("name,fragment", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_bad_name_upload(site, src, name, fragment):
    with pytest.raises(librarian.InvalidName) as e:
        site.upload(src, name)
    err = e.value
    assert isinstance(err, librarian.LibrarianError)
    assert isinstance(err, ValueError)
    assert err.code == "invalid_name"
    assert type(err).code == "invalid_name"
    assert fragment in str(err)
    assert site.search() == []
    assert site.status().files == 0


@pytest.mark.parametrize("name,fragment", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_bad_name_lookups(site, name, fragment):
    for call in (site.file, site.instances, site.remote_instances, site.verify):
        with pytest.raises(librarian.InvalidName) as e:
            call(name)
        assert e.value.code == "invalid_name"
        assert fragment in str(e.value)


def test_longest_name_is_accepted(site, src):
    name = "/".join(["s" * 200] * 5) + "/" + "t" * 19
    assert len(name.encode()) == 1024
    assert site.upload(src, name).name == name


def test_unicode_name_is_accepted(site, src):
    name = "2026/観測/obs_é.dat"
    assert site.upload(src, name).name == name
    assert site.file(name.encode()).name == name


def test_name_must_be_str_or_bytes(site, src):
    with pytest.raises(TypeError):
        site.upload(src, 42)
    with pytest.raises(TypeError):
        site.file(None)
