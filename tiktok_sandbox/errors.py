"""TikTok return codes the sandbox answers with, and the exception that carries one.

Reference: https://business-api.tiktok.com/portal/docs?id=1737172488964097 (return codes;
docs/TIKTOK_API.md §3.2 has the table this file follows).
"""

from __future__ import annotations

OK = 0
NO_PERMISSION = 40001
PARAM_ERROR = 40002
NOT_FOUND = 40007
TOO_MANY_IDS = 40011
PII_NOT_HASHED = 40062
RATE_LIMITED = 40100
INVALID_AUTH_PARAMS = 40101
ACCESS_TOKEN_MISSING = 40104
ACCESS_TOKEN_INVALID = 40105
AUTH_CODE_INVALID = 40110
APP_INVALID = 40113
SYSTEM_ERROR = 50000
INTERNAL_TIMEOUT = 51001

# Messages observed live or in fixtures modelled on real responses (docs/TIKTOK_API.md §2.4, §3.2).
MESSAGE_TOKEN_MISSING = (
    "Access token is null, you should set it in http header with key Access-Token."
)
MESSAGE_TOKEN_INVALID = "Access token is incorrect or has been revoked."
MESSAGE_SYSTEM_ERROR = "System error, please try again later."
MESSAGE_INTERNAL_TIMEOUT = "Internal service timeout, please try again later."


def qps_message(app_id: str, limit: int, current: int) -> str:
    # The exact wording clients match on (docs/TIKTOK_API.md §3.2, code 40100).
    return f"App {app_id} reaches the QPS limit {limit}, current QPS is {current}."


class ApiError(Exception):
    """A business error: answered with HTTP 200 and this code in the envelope."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple:
        # Errors travel back from the parsing worker process (workers.py).
        return (ApiError, (self.code, self.message))


def param_error(message: str) -> ApiError:
    return ApiError(PARAM_ERROR, message)
