"""The CLI's side of the local API: a small synchronous client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from netwarden.errors import ApiError


class ApiClient:
    def __init__(self, socket_path: Path, timeout: float = 5.0) -> None:
        self.socket_path = socket_path
        transport = httpx.HTTPTransport(uds=str(socket_path))
        # The host name is a placeholder: the request goes to the socket.
        self._http = httpx.Client(
            transport=transport, base_url="http://netwarden", timeout=timeout
        )

    def get(self, path: str, **params: Any) -> Any:
        try:
            response = self._http.get(path, params=params)
        except httpx.TransportError as err:
            raise ApiError(
                f"cannot reach the netwarden daemon at {self.socket_path}: {err}"
            ) from err
        if response.status_code != 200:
            raise ApiError(f"daemon refused {path}: {_error_text(response)}")
        return response.json()

    def close(self) -> None:
        self._http.close()


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"
