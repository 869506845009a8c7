"""Which filter list, if any, names a domain or one of its parents.

Every list is a set of names; a listed name also covers its subdomains
(with ``filter/includeSubdomains``, Portmaster's and Adblock's ``||name^``
meaning). A lookup walks the name's suffixes, ``a.b.c`` then ``b.c`` then
``c``, with one dict lookup each: a few microseconds, whatever the list size.

Allow entries (Adblock ``@@``, Portmaster's UNBREAK lists) win: a name that
is allowed, or is a subdomain of an allowed name, is never reported as
blocked, even if a more specific name is on a block list.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from netwarden.intel.domain_name import parent_domains
from netwarden.intel.filterlist import FilterList

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ListMatch:
    """``entry`` is the listed name that matched: the domain or a parent."""

    list_name: str
    entry: str
    allowed: bool

    @property
    def source(self) -> str:
        return f"{self.list_name}: {self.entry}"


class DomainIndex:
    """Names of several lists, each mapped to the first list that has it."""

    def __init__(self, lists: Iterable[FilterList] = ()) -> None:
        self._blocked: dict[str, str] = {}
        self._allowed: dict[str, str] = {}
        self._list_names: list[str] = []
        for filter_list in lists:
            self._add(filter_list)

    def _add(self, filter_list: FilterList) -> None:
        self._list_names.append(filter_list.name)
        for name in filter_list.blocked:
            self._blocked.setdefault(name, filter_list.name)
        for name in filter_list.allowed:
            self._allowed.setdefault(name, filter_list.name)

    @property
    def list_names(self) -> tuple[str, ...]:
        return tuple(self._list_names)

    def __len__(self) -> int:
        return len(self._blocked) + len(self._allowed)

    def match(
        self, domain: str, *, include_subdomains: bool = True
    ) -> ListMatch | None:
        """The allow entry, else the most specific block entry, for ``domain``.

        ``domain`` is expected in normalised form (see
        :func:`~netwarden.intel.domain_name.normalise_domain`); case and a
        trailing dot are forgiven here since DNS names arrive in any case
        (RFC 4343).
        """
        name = domain.lower().removesuffix(".")
        candidates = parent_domains(name) if include_subdomains else [name]
        for candidate in candidates:
            list_name = self._allowed.get(candidate)
            if list_name is not None:
                return ListMatch(list_name, candidate, allowed=True)
        for candidate in candidates:
            list_name = self._blocked.get(candidate)
            if list_name is not None:
                return ListMatch(list_name, candidate, allowed=False)
        return None

    def is_blocked(self, domain: str, *, include_subdomains: bool = True) -> bool:
        found = self.match(domain, include_subdomains=include_subdomains)
        return found is not None and not found.allowed
