"""The container's health check: GET /health on the configured HOST and PORT.

Standard library only, so a check every few seconds costs milliseconds, not the
seconds of importing the application. A wildcard HOST (0.0.0.0, ::) is asked on
loopback. Exit status 0 when the server answers 200, else 1 with the reason.
"""

import os
import sys
import urllib.error
import urllib.request


def health_url() -> str:
    host = os.environ.get("HOST", "127.0.0.1")
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - compared, not bound
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{os.environ.get('PORT', '8000')}/health"


def main() -> int:
    url = health_url()
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - http only
            if response.status == 200:
                return 0
            reason = f"status {response.status}"
    except (urllib.error.URLError, OSError) as error:
        reason = str(error)
    print(f"{url}: {reason}", file=sys.stderr)  # noqa: T201
    return 1


if __name__ == "__main__":
    sys.exit(main())
