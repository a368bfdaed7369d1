"""Name normalisation shared by the loader, the spiders and the API search: player names, and
the keys team aliases are stored and looked up by."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9 ]+")


def normalise_name(name: str) -> str:
    """'Luka Dončić' -> 'luka doncic', "De'Aaron Fox" -> 'deaaron fox': for search and matching."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    ascii_only = ascii_only.replace("ø", "o").replace("Ø", "O").replace("ł", "l").replace("đ", "d")
    cleaned = _NON_WORD.sub("", ascii_only.lower().replace("-", " ").replace(".", ""))
    return " ".join(cleaned.split())


def alias_key(text: str) -> str:
    """How team aliases are stored and looked up: case and surrounding space do not matter."""
    return " ".join(text.split()).lower()
