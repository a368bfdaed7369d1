"""A local stand-in for basketball-reference.com serving the saved real pages (no network).

Pages live gzipped under fixtures/pages/ and are mapped to the URL (path and query) they were
saved from. Unknown URLs get bref's real 404 page with status 404. Tests can queue one-off
answers for a URL (e.g. a 429 with Retry-After before the page) and read the request log.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

PAGES = Path(__file__).parent / "fixtures" / "pages"

# URL (path?query as the spiders request it) -> saved page
ROUTES = {
    "/boxscores/?day=1&month=1&year=2018": "daily_boxscores_index/boxscores_2018-01-01.html",
    "/boxscores/?day=1&month=1&year=2001": "daily_boxscores_index/boxscores_2001-01-01.html",
    "/boxscores/201801010BRK.html": "boxscores/201801010BRK.html",
    "/boxscores/201801010TOR.html": "boxscores/201801010TOR.html",
    "/boxscores/201701010ATL.html": "boxscores/201701010ATL.html",
    "/boxscores/200101010MIN.html": "boxscores/200101010MIN.html",
    "/boxscores/202401260ATL.html": "rendered_fragments/boxscores/202401260ATL.fragment.html",
    # The season page shows its first month (October) and links every month.
    "/leagues/NBA_2018_games.html": "schedule_months/NBA_2018_games-october.html",
    "/leagues/NBA_2018_games-october.html": "schedule_months/NBA_2018_games-october.html",
    "/leagues/NBA_2018_games-january.html": "schedule_months/NBA_2018_games-january.html",
    "/leagues/NBA_2018_games-april.html": "schedule_months/NBA_2018_games-april.html",
    "/leagues/NBA_2001_games-december.html": "schedule_months/NBA_2001_games-december.html",
    "/leagues/NBA_2019_games-april.html": "schedule_months/NBA_2019_games-april.html",
    "/players/w/westbru01/gamelog/2019": "player_gamelogs/westbru01_gamelog_2019.html",
    "/players/a/antetgi01/gamelog/2020": "player_gamelogs/antetgi01_gamelog_2020.html",
    "/players/b/brownja01/gamelog/2015": "player_gamelogs/brownja01_gamelog_2015.html",
    # bref answers an unknown player's game log with its player index page (status 200).
    "/players/f/foobar/gamelog/2020": "misc/gamelog_unknown_player_foobar_2020.html",
}
NOT_FOUND_PAGE = "misc/404_not_found.html"


def page(name: str) -> bytes:
    """A saved page's bytes (the fixtures are stored gzipped)."""
    return gzip.decompress((PAGES / f"{name}.gz").read_bytes())


def url_key(target: str) -> str:
    parts = urlsplit(target)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return parts.path + (f"?{query}" if query else "")


class BrefServer:
    def __init__(self, routes: dict[str, str] | None = None):
        self.routes = {url_key(key): value for key, value in (routes or ROUTES).items()}
        self.scripted: dict[str, deque] = defaultdict(deque)
        self.requests: list[tuple[float, str, int]] = []
        self.robots_txt: bytes | None = None
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # --- test controls ---------------------------------------------------------------------------
    def script(self, target: str, *answers: tuple[int, dict, bytes]) -> None:
        """Answer the next requests for `target` with these (status, headers, body) first."""
        with self._lock:
            self.scripted[url_key(target)].extend(answers)

    def route(self, target: str, body_page: str | None = None, body: bytes | None = None) -> None:
        """Serve a saved page (or raw bytes) at `target` from now on."""
        with self._lock:
            self.routes[url_key(target)] = body if body is not None else body_page

    def hits(self, target: str) -> list[tuple[float, int]]:
        key = url_key(target)
        return [(when, status) for when, path, status in self.requests if path == key]

    def pages_requested(self) -> list[str]:
        return [path for _, path, _ in self.requests if path != "/robots.txt"]

    # --- serving -------------------------------------------------------------------------------
    def answer(self, target: str) -> tuple[int, dict, bytes]:
        key = url_key(target)
        with self._lock:
            if self.scripted.get(key):
                return self.scripted[key].popleft()
            route = self.routes.get(key)
        if key == "/robots.txt":
            if self.robots_txt is None:
                return 404, {"Content-Type": "text/plain"}, b"not found"
            return 200, {"Content-Type": "text/plain"}, self.robots_txt
        if route is None:
            return 404, {}, page(NOT_FOUND_PAGE)
        return 200, {}, route if isinstance(route, bytes) else page(route)

    def start(self) -> BrefServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                status, headers, body = server.answer(self.path)
                with server._lock:
                    server.requests.append((time.monotonic(), url_key(self.path), status))
                self.send_response(status)
                headers = {"Content-Type": "text/html; charset=utf-8", **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
