"""A refusal because a limit is reached (a per-user quota): the API answers it as 429 with Retry-After and a
body naming the limit. Apps raise subclasses; the API's exception handler knows only this base."""


class LimitExceeded(Exception):
    def __init__(self, *, limit: str, allowed: int, used: int, retry_after_s: int, message: str):
        super().__init__(message)
        self.limit, self.allowed, self.used = limit, allowed, used
        self.retry_after_s, self.message = retry_after_s, message

    def as_dict(self) -> dict:
        return {"detail": self.message, "limit": self.limit, "allowed": self.allowed, "used": self.used}
