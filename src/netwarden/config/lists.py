"""Loading the filter lists that the settings declare and activate (edge I/O)."""

from __future__ import annotations

import logging
from pathlib import Path

from netwarden.config.file import Settings
from netwarden.config.options import LIST_FILE
from netwarden.errors import ConfigError
from netwarden.intel.domain_index import DomainIndex
from netwarden.intel.filterlist import FilterList, load_filter_list

logger = logging.getLogger(__name__)


def load_filter_lists(settings: Settings) -> DomainIndex:
    """Read every active list into one index, in declaration order.

    A list that cannot be read is an error naming the option and the file:
    running with fewer lists than configured would block less than the user
    asked for, without a word.
    """
    loaded: list[FilterList] = []
    origins = settings.list_file_origins
    for number, (list_id, path) in enumerate(settings.list_files):
        if list_id not in settings.active_lists:
            continue
        try:
            loaded.append(_load(list_id, path))
        except ConfigError as err:
            origin = origins[number] if number < len(origins) else None
            raise ConfigError(
                f"list {list_id}: {err}",
                source=origin.source if origin else None,
                line=origin.line if origin else None,
                field=LIST_FILE.key,
            ) from err
    index = DomainIndex(loaded)
    logger.info("filter lists in use: %s (%d names)", index.list_names, len(index))
    return index


def _load(list_id: str, path: Path) -> FilterList:
    """One list; one that yields no entry at all is most likely not a list."""
    filter_list = load_filter_list(path, name=list_id)
    if not filter_list.blocked and not filter_list.allowed:
        logger.warning(
            "filter list %s from %s has no usable entry (%d lines, all skipped): "
            "is it a filter list?",
            list_id,
            path,
            filter_list.stats.lines,
        )
    return filter_list
