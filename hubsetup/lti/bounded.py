"""A request to an LMS whose reply must come whole within a time and a size: a platform that
answers slowly or without end is given up, never waited for (a read timeout alone restarts
with every byte)."""

import time

import requests


class TooLargeOrSlow(Exception):
    pass


def read(method, url, seconds, max_bytes, timeout, **kwargs):
    """(response, its body) within `seconds` in all and `max_bytes`; TooLargeOrSlow past
    either; requests' own errors as they are. Redirects are not followed."""
    deadline = time.monotonic() + seconds
    with requests.request(method, url, stream=True, timeout=timeout, allow_redirects=False, **kwargs) as response:
        body = b""
        for chunk in response.iter_content(65536):
            body += chunk
            if len(body) > max_bytes or time.monotonic() > deadline:
                raise TooLargeOrSlow(url)
    return response, body
