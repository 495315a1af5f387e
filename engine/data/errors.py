"""The one exception of the data package."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset could not be found, read or verified; the message says where and how to fix it.

    ``alternative`` names a dataset that is usable here instead (each interface words the
    suggestion its own way: a CLI flag, an API dataset name, a menu choice in the page).
    """

    def __init__(self, message: str, *, alternative: str | None = None) -> None:
        super().__init__(message)
        self.alternative = alternative


#: The fix for a bad file, appended to every message about one.
FIX = "download it again, or delete it so it is fetched anew"
