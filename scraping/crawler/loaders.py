"""Item loaders: turn a table row's data-stat cells into typed item fields.

Every value is looked up by `data-stat` name (`./*[@data-stat="pts"]`), so column order,
extra columns (GmSc, 2P...) and newer layouts do not matter.
"""

from __future__ import annotations

from itemloaders.processors import Identity, MapCompose, TakeFirst
from scrapy.loader import ItemLoader

from scraping.crawler.html import minutes_to_seconds, to_int
from scraping.crawler.items import GameLogLineItem, PlayerLineItem

# item field -> data-stat names bref has used for it (current name first)
LINE_STATS = {
    "pts": ("pts",),
    "fgm": ("fg",),
    "fga": ("fga",),
    "fg3m": ("fg3",),
    "fg3a": ("fg3a",),
    "ftm": ("ft",),
    "fta": ("fta",),
    "oreb": ("orb",),
    "dreb": ("drb",),
    "reb": ("trb",),
    "ast": ("ast",),
    "stl": ("stl",),
    "blk": ("blk",),
    "tov": ("tov",),
    "pf": ("pf",),
    "plus_minus": ("plus_minus",),
}


def _clean(value):
    """Collapse whitespace in text (empty text becomes None, i.e. no value); other values pass."""
    if not isinstance(value, str):
        return value
    value = " ".join(value.replace("\xa0", " ").split())
    return value or None


def cell_xpath(stat: str) -> str:
    """The visible text of the row's cell named `stat` (empty when the cell is missing)."""
    return f'normalize-space(./*[@data-stat="{stat}"])'


class LineLoader(ItemLoader):
    default_item_class = PlayerLineItem
    default_input_processor = MapCompose(_clean)
    default_output_processor = TakeFirst()

    seconds_in = MapCompose(_clean, lambda v: minutes_to_seconds(v) if isinstance(v, str) else v)
    raw_in = Identity()

    def add_stats(self) -> None:
        """Fill every counting stat and the minutes from the row's data-stat cells."""
        for field, stats in LINE_STATS.items():
            for stat in stats:
                self.add_xpath(field, cell_xpath(stat))
        self.add_xpath("seconds", cell_xpath("mp"))


def _int_processor():
    return MapCompose(_clean, lambda v: to_int(v) if isinstance(v, str) else v)


for _field in LINE_STATS:
    setattr(LineLoader, f"{_field}_in", _int_processor())


class GameLogLineLoader(LineLoader):
    default_item_class = GameLogLineItem
    team_score_in = _int_processor()
    opponent_score_in = _int_processor()
