"""Fetch one URL and print the response: the demo's "a Python program".

Run inside the lab's device namespace, e.g.
``python3 fetch.py http://lab-web.example/``; it needs only the standard
library, so any Python 3 will do. Exit code 0 on a 2xx answer, 1 otherwise.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://lab-web.example/"
TIMEOUT = 10


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else DEFAULT_URL
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            body = response.read(4096).decode(errors="replace")
            print(f"{response.status} {body.strip()}")
            return 0 if 200 <= response.status < 300 else 1
    except (urllib.error.URLError, OSError) as err:
        print(f"fetch {url}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
