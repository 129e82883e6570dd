"""The one-regex check for offending characters finds exactly what the per-character rule finds."""

from __future__ import annotations

import unicodedata

from annotations.formats import naming


def test_the_offending_pattern_matches_forbidden_and_control_characters_only():
    wrong = [hex(code) for code in range(0x110000)
             if bool(naming._OFFENDING.search(chr(code)))
             != (chr(code) in naming.FORBIDDEN or unicodedata.category(chr(code)) == "Cc")]
    assert wrong == []
