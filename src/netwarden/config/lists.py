"""Loading the filter lists that the settings declare and activate (edge I/O)."""

from __future__ import annotations

import logging

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
    for list_id, path in settings.list_files:
        if list_id not in settings.active_lists:
            continue
        try:
            loaded.append(load_filter_list(path, name=list_id))
        except ConfigError as err:
            raise ConfigError(
                f"{list_id}: {err.message}", source=str(path), field=LIST_FILE.key
            ) from err
    index = DomainIndex(loaded)
    logger.info("filter lists in use: %s (%d names)", index.list_names, len(index))
    return index
