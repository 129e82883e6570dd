"""The fast naming helpers give exactly what the plain rules give: the one-regex check for
offending characters, and the compact set of used stems."""

from __future__ import annotations

import random
import unicodedata

import pytest

from annotations.formats import naming


def test_the_offending_pattern_matches_forbidden_and_control_characters_only():
    wrong = [hex(code) for code in range(0x110000)
             if bool(naming._OFFENDING.search(chr(code)))
             != (chr(code) in naming.FORBIDDEN or unicodedata.category(chr(code)) == "Cc")]
    assert wrong == []


_STEMS = ["", "a", "aa", "a_", "_a", "a__7", "ss", "straße".casefold(), "ß", "é", "e\u0301",
          "\U0001f600", "x" * 300, "0", "00", "000000000001", "IMG 0001", ".hidden"]


@pytest.mark.parametrize("mask", [0, 3, naming.StemSet.MASK])
def test_the_stem_set_answers_as_a_python_set_does(monkeypatch, mask):
    # mask 0: every stem in one bucket, where a stem is a prefix or suffix of others.
    monkeypatch.setattr(naming.StemSet, "MASK", mask)
    rng = random.Random(mask)
    stems, expected = naming.StemSet(), set()
    for _ in range(3000):
        stem = rng.choice(_STEMS) + rng.choice(["", "", "_", str(rng.randrange(40))])
        assert (stem in stems) == (stem in expected)
        assert stems.add(stem) == (stem not in expected)
        expected.add(stem)


def _reference_names(rules: naming.RenameRules, names: list[tuple[str, int]]) -> list[str]:
    """The renaming rule with a plain set of used stems (SetNamer before the compact set)."""
    used, result = set(), []
    for original, image_id in names:
        stem, ext = naming.split_name(original)
        if naming.needs_rename(original, rules) or stem.casefold() in used:
            clean_ext = "".join("_" if naming._is_offending(ch, rules) else ch for ch in ext)
            original = f"{naming.clean_stem(stem, rules)}__{image_id}{clean_ext}"
            stem = naming.split_name(original)[0]
        used.add(stem.casefold())
        result.append(original)
    return result


@pytest.mark.parametrize("rules", [naming.RenameRules(),
                                   naming.RenameRules(whitespace=True, voc_stem=True)])
def test_set_namer_renames_as_the_rule_with_a_plain_set_does(rules):
    rng = random.Random(5)
    exts = [".jpg", ".JPG", ".png", "", ".tar.gz", ". jpg"]
    names = [(rng.choice(_STEMS + ["A", "Straße", "a/b", "a:b", " a", "#a", "a\tb"])
              + rng.choice(exts), image_id) for image_id in range(2000)]
    namer = naming.SetNamer(rules)
    assert [namer.name(name, image_id) for name, image_id in names] == \
        _reference_names(rules, names)
