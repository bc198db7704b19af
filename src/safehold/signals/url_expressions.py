"""Safe Browsing's host-suffix / path-prefix expressions: what a URL list entry can name, and the
at most 30 expressions a checked URL is looked up by.

An entry of a URL list is one canonical *expression*, a canonical URL without its scheme
(:attr:`~safehold.signals.url_canonical.CanonicalUrl.expression`). Its form says what it
covers (:func:`expression_kind`):

=================================  ==============  ===========================================
entry                              kind            matches
=================================  ==============  ===========================================
``example.com/``                   ``host``        every URL on ``example.com`` and its
                                                   subdomains (``www.example.com/x``)
``example.com/bad/``               ``path_prefix`` URLs under ``/bad/`` on that host and its
                                                   subdomains
``example.com/bad/page.html``      ``exact_path``  that path with any query (or none)
``example.com/bad/page.html?x=1``  ``exact_url``   that path with exactly that query
=================================  ==============  ===========================================

A checked URL is looked up by the expressions of Safe Browsing's "Suffix/Prefix Expressions"
(https://developers.google.com/safe-browsing/v4/urls-hashing): host suffixes (the exact host
and up to four more made from its last five labels by dropping the leading one, never the top
level domain alone; for an IP address the exact host only) times path prefixes (the exact path
with the query, the exact path without it, and up to four directory prefixes from ``/``). So
an entry matches through its own expression only: a host entry with more than five labels
matches that exact host, and a path prefix entry deeper than three directories matches that
exact path only (as in Safe Browsing).
"""

from __future__ import annotations

from safehold.signals.url_canonical import CanonicalUrl

#: Kinds of URL list entry, by the form of their expression (module docstring).
HOST = "host"
PATH_PREFIX = "path_prefix"
EXACT_PATH = "exact_path"
EXACT_URL = "exact_url"
KINDS = (HOST, PATH_PREFIX, EXACT_PATH, EXACT_URL)

#: Host suffixes checked beyond the exact host, and the labels they are made from.
MAX_EXTRA_HOSTS = 4
HOST_LABELS = 5
#: Directory prefixes checked (``/`` included).
MAX_PATH_PREFIXES = 4


def expression_kind(expression: str) -> str:
    """What a canonical expression covers: :data:`HOST`, :data:`PATH_PREFIX`,
    :data:`EXACT_PATH` or :data:`EXACT_URL` (table in the module docstring)."""
    url = split_expression(expression)
    if url.query is not None:
        return EXACT_URL
    if url.path == "/":
        return HOST
    return PATH_PREFIX if url.path.endswith("/") else EXACT_PATH


def split_expression(expression: str) -> CanonicalUrl:
    """Split an already canonical expression into host, path and query (scheme ``http``).

    The host ends at the first ``/`` (a canonical expression always has one) and the query
    starts at the first ``?``; no canonicalisation is done, so give only canonical values
    (bank values, :attr:`CanonicalUrl.expression`).
    """
    host, slash, rest = expression.partition("/")
    path, mark, query = (slash + rest).partition("?")
    return CanonicalUrl("http", host, path or "/", query if mark else None)


def host_suffixes(url: CanonicalUrl) -> list[str]:
    """The hosts a URL is checked under: its exact host first, then the suffixes made from
    its last :data:`HOST_LABELS` labels, longest first, down to two labels (none for an IP
    address). ``a.b.c.d.e.f.g`` gives ``a.b.c.d.e.f.g``, ``c.d.e.f.g``, ``d.e.f.g``,
    ``e.f.g``, ``f.g``."""
    hosts = [url.host]
    if url.is_ip:
        return hosts
    labels = url.host.split(".")
    for start in range(max(1, len(labels) - HOST_LABELS), len(labels) - 1):
        hosts.append(".".join(labels[start:]))
    return hosts


def path_prefixes(url: CanonicalUrl) -> list[str]:
    """The paths a URL is checked under: the exact path with its query (when it has one),
    the exact path, then ``/`` and up to three more directory prefixes, each ending in ``/``;
    without repeats. ``/1/2.html?param=1`` gives ``/1/2.html?param=1``, ``/1/2.html``,
    ``/``, ``/1/``."""
    paths: list[str] = []
    if url.query is not None:
        paths.append(f"{url.path}?{url.query}")
    paths.append(url.path)
    directories = url.path.split("/")[1:-1]
    prefix = "/"
    for i in range(min(len(directories) + 1, MAX_PATH_PREFIXES)):
        if i:
            prefix += directories[i - 1] + "/"
        if prefix not in paths:
            paths.append(prefix)
    return paths


def lookup_expressions(url: CanonicalUrl) -> list[str]:
    """Every expression a checked URL is looked up by (at most 5 x 6 = 30): each host of
    :func:`host_suffixes` with each path of :func:`path_prefixes`, in that order."""
    paths = path_prefixes(url)
    return [host + path for host in host_suffixes(url) for path in paths]
