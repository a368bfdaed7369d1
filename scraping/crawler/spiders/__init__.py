"""The spiders: `schedule`, `boxscores`, `gamelog` (see each module for its arguments)."""
