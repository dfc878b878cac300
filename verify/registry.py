"""Names a spec may use: experiment kinds, analytic references and check rules.

A leaf: it imports nothing of the testbed but the error wording. Kinds, closed-form adapters and
rules register themselves next to their definitions (`EXPERIMENTS.register(KIND)` at the end of a
kind's module, `@ANALYTIC.add("analytic.linear.top_m")` on an adapter in verify/references.py,
`@RULES.add("close")` on a rule in verify/checks.py); `verify/catalog.py` imports those modules so
that the tables are full. Unknown names fail with a suggestion, duplicates fail loudly.
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from verify.errors import did_you_mean

if TYPE_CHECKING:  # types only: the registry imports no entry at run time
    from verify.checks import Rule
    from verify.kind import ExperimentKind

__all__ = ["Registry", "UnknownName", "EXPERIMENTS", "ANALYTIC", "RULES"]

T = TypeVar("T")


class UnknownName(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    """A name → entry table that refuses duplicates and explains unknown names."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        if name in self._items:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._items[name] = item
        return item

    def add(self, name: str) -> Callable[[T], T]:
        """Decorator form of `register`, to sit on the definition it names."""
        return lambda item: self.register(name, item)

    def get(self, name: str, what: str | None = None) -> T:
        if name not in self._items:
            raise UnknownName(did_you_mean(name, tuple(self._items), what or self.what))
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def items(self) -> ItemsView[str, T]:
        return self._items.items()


EXPERIMENTS: Registry[ExperimentKind] = Registry("experiment kind")
# an analytic reference maps an experiment config at one grid point to the expected value there
ANALYTIC: Registry[Callable[[Any], Any]] = Registry("analytic reference")
RULES: Registry[Rule] = Registry("rule")
