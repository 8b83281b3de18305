"""Navigation registries: the portal and the operator console list their pages here.

Later modules add pages without touching the shell::

    from smartbank.web.nav import register_console_page
    register_console_page("/console/loans", "nav.console.loans", roles=("loan_officer",))

Who sees a page in the navigation is who may open it: the permission table's entry for ``GET <path>``
(:data:`smartbank.security.permissions.ROUTES`). ``roles`` is only for a page the table does not know
(``None``: every staff role on the console, every customer on the portal; ``admin`` sees every such console
page). A page's label is a message-catalog key (see :mod:`smartbank.web.i18n`).
"""

from __future__ import annotations

from dataclasses import dataclass

from smartbank.security import service as security
from smartbank.security.service import Principal


@dataclass(frozen=True)
class NavItem:
    path: str
    label_key: str
    roles: tuple[str, ...] | None = None
    order: int = 100

    def allows(self, principal: Principal | None) -> bool:
        if principal is None:
            return False
        access = security.route_access("GET", self.path)
        if access is not None:
            roles = security.route_roles(access)
            return roles is None or principal.role in roles
        return self.roles is None or principal.role in self.roles or principal.role == "admin"


_registry: dict[str, dict[str, NavItem]] = {"console": {}, "portal": {}}


def _register(area: str, path: str, label_key: str, roles, order: int) -> NavItem:
    item = NavItem(path=path, label_key=label_key, roles=tuple(roles) if roles is not None else None, order=order)
    _registry[area][path] = item
    return item


def register_console_page(path: str, label_key: str, roles: tuple[str, ...] | list[str] | None = None,
                          *, order: int = 100) -> NavItem:
    if not path.startswith("/console"):
        raise ValueError("console pages live under /console")
    return _register("console", path, label_key, roles, order)


def register_portal_page(path: str, label_key: str, *, order: int = 100) -> NavItem:
    return _register("portal", path, label_key, None, order)


def console_page(path: str) -> NavItem | None:
    return _registry["console"].get(path)


def items(area: str, principal: Principal | None) -> list[NavItem]:
    return sorted((i for i in _registry.get(area, {}).values() if i.allows(principal)),
                  key=lambda i: (i.order, i.path))


def all_items() -> list[NavItem]:
    return [i for reg in _registry.values() for i in reg.values()]


# ---- the portal's tab bar and the console's groups ------------------------------------------------------------

@dataclass(frozen=True)
class Tab:
    """One of the five tabs of the portal (the bottom bar on phones, the side bar on wide screens)."""
    key: str
    path: str
    label_key: str
    prefixes: tuple[str, ...] = ()  # the paths (and below) that belong to this tab


PORTAL_TABS = (
    Tab("home", "/", "nav.tab.home", ("/accounts",)),
    Tab("transfer", "/transfer", "nav.tab.transfer", ("/transfer", "/transfers", "/payees", "/scheduled")),
    Tab("wealth", "/wealth", "nav.tab.wealth", ("/wealth",)),
    Tab("loans", "/loans", "nav.tab.loans", ("/loans",)),
    Tab("me", "/me", "nav.tab.me", ()),
)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def current_tab(path: str) -> str:
    """The tab a portal path belongs to: ``me`` for every page the other four do not hold (security,
    privacy, bills, the assistant...), which the "me" page lists."""
    if path == "/":
        return "home"
    for tab in PORTAL_TABS:
        if any(_under(path, p) for p in tab.prefixes):
            return tab.key
    return "me"


def me_items(principal: Principal | None) -> list[NavItem]:
    """The portal pages the tab bar does not show: the list on the "me" page."""
    tabs = {t.path for t in PORTAL_TABS}
    return [i for i in items("portal", principal) if i.path not in tabs]


# The console's side bar groups pages by area, from the first segment of the path under /console.
CONSOLE_GROUPS = (
    ("work", ("", "customers", "security")),
    ("customers", ("insight", "recommend")),
    ("risk", ("risk", "changes", "reversals")),
    ("lending", ("lending",)),
    ("wealth", ("wealth",)),
    ("marketing", ("marketing", "loyalty", "opinion")),
    ("service", ("assistant", "privacy")),
)


def console_group(path: str) -> str:
    parts = path.split("/")
    segment = parts[2] if len(parts) > 2 else ""
    for key, segments in CONSOLE_GROUPS:
        if segment in segments:
            return key
    return "other"


def console_groups(principal: Principal | None) -> list[tuple[str, list[NavItem]]]:
    """The console pages ``principal`` may open, grouped by area in :data:`CONSOLE_GROUPS` order (a group
    with no page for the role is left out)."""
    order = [k for k, _ in CONSOLE_GROUPS] + ["other"]
    grouped: dict[str, list[NavItem]] = {k: [] for k in order}
    for item in items("console", principal):
        grouped[console_group(item.path)].append(item)
    return [(k, grouped[k]) for k in order if grouped[k]]
