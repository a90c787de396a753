"""Filename sanitising: whatever the client sends stays one harmless segment of the key."""

import unicodedata

import pytest

from files.filenames import (
    DEFAULT_FILENAME,
    MAX_FILENAME_LENGTH,
    object_key,
    sanitise_filename,
)

USER_ID = "6f1c1f4e-5b0a-4a8e-9d8e-2f6f0c1b2a3d"
FILE_ID = "0b6f8f0e-1d3c-4a5b-8c7d-9e0f1a2b3c4d"

NASTY_NAMES = [
    ("receipt.jpg", "receipt.jpg"),
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\config", "config"),
    ("C:\\fakepath\\photo.jpg", "photo.jpg"),
    ("/absolute/path/report.pdf", "report.pdf"),
    ("photos/", "photos"),
    ("..", DEFAULT_FILENAME),
    ("...", DEFAULT_FILENAME),
    (".", DEFAULT_FILENAME),
    ("", DEFAULT_FILENAME),
    ("   ", DEFAULT_FILENAME),
    ("/", DEFAULT_FILENAME),
    ("\x00", DEFAULT_FILENAME),
    (".jpg", "file.jpg"),
    (".bashrc", "file.bashrc"),
    ("..jpg", "file.jpg"),
    ("a..b...c.txt", "a.b.c.txt"),
    ("photo.", "photo"),
    ("photo.jpg. . .", "photo.jpg"),
    ("evil\x00.jpg", "evil.jpg"),
    ("line\r\nbreak.txt", "line break.txt"),
    ("tab\there.txt", "tab here.txt"),
    ("bell\x07\x1b[31m.txt", "bell[31m.txt"),
    ("del\x7f.txt", "del.txt"),
    ("  lots   of    space  .png", "lots of space .png"),
    ("résumé.pdf", "résumé.pdf"),
    ("Übersicht 2024.pdf", "Übersicht 2024.pdf"),
    ("照片.jpg", "照片.jpg"),
    ("фото.png", "фото.png"),
    ("🚗 service.heic", "🚗 service.heic"),
    ("e\u0301cole.txt", "école.txt"),
    ("ｆｕｌｌ／ｗｉｄｔｈ.png", "width.png"),
    ("fake\u2215slash.png", "fake\u2215slash.png"),
    ("invoice\u202egpj.exe", "invoicegpj.exe"),
    ("zero\u200bwidth.txt", "zerowidth.txt"),
    ("no\u00a0break.txt", "no break.txt"),
    ('what?<is>"this":*|.txt', "what__is__this____.txt"),
    ("100%.png", "100%.png"),
]


@pytest.mark.parametrize(("raw", "expected"), NASTY_NAMES)
def test_nasty_names_are_made_safe(raw, expected):
    assert sanitise_filename(raw) == expected


@pytest.mark.parametrize("raw", [raw for raw, _ in NASTY_NAMES])
def test_result_is_always_one_visible_segment(raw):
    name = sanitise_filename(raw)
    assert name and len(name) <= MAX_FILENAME_LENGTH
    assert "/" not in name and "\\" not in name and ".." not in name
    assert not name.startswith(".") and name == name.strip()
    assert not any(unicodedata.category(c).startswith("C") for c in name)


def test_very_long_name_is_cut_keeping_its_extension():
    name = sanitise_filename("a" * 5000 + ".jpeg")
    assert len(name) == MAX_FILENAME_LENGTH
    assert name == "a" * (MAX_FILENAME_LENGTH - 5) + ".jpeg"


def test_very_long_name_without_extension_is_cut():
    assert sanitise_filename("b" * 1000) == "b" * MAX_FILENAME_LENGTH


def test_very_long_extension_is_not_kept_whole():
    name = sanitise_filename("x." + "y" * 500)
    assert len(name) == MAX_FILENAME_LENGTH and name.startswith("x.")


def test_long_unicode_name_is_cut_by_characters_and_fits_an_s3_key():
    name = sanitise_filename("😀" * 1000 + ".png")
    assert len(name) == MAX_FILENAME_LENGTH and name.endswith(".png")
    assert len(object_key(USER_ID, FILE_ID, name).encode()) <= 1024  # S3's key limit


def test_cut_does_not_leave_a_trailing_dot_or_space_before_the_extension():
    name = sanitise_filename("a" * 194 + " . . . . " + ".jpg")
    assert name.endswith(".jpg") and ". .jpg" not in name and " .jpg" not in name


@pytest.mark.parametrize("raw", ["../../etc/passwd", "..", "../" * 50, "..\\..\\x",
                                 "%2e%2e%2fetc", "／..／..／etc"])
def test_traversal_stays_inside_the_files_folder(raw):
    key = object_key(USER_ID, FILE_ID, sanitise_filename(raw))
    prefix = f"uploads/{USER_ID}/{FILE_ID}/"
    assert key.startswith(prefix)
    rest = key.removeprefix(prefix)
    assert rest and "/" not in rest and rest not in (".", "..")
