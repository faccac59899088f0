"""The one error a stream command answers with: mongod's ``{ok: 0, errmsg, code, codeName}``."""

from __future__ import annotations


class CommandError(Exception):
    """A command refused; the wire layer turns it into ``{ok: 0, errmsg, code, codeName}``."""

    def __init__(self, code: int, code_name: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.code_name = code_name
        self.message = message

    def reply(self) -> dict:
        return {"ok": 0, "errmsg": self.message, "code": self.code, "codeName": self.code_name}


def bad_value(message: str) -> CommandError:
    return CommandError(2, "BadValue", message)


def not_found(name: str) -> CommandError:
    return CommandError(125, "StreamProcessorDoesNotExist", f"stream processor {name!r} does not exist")


def already_exists(name: str) -> CommandError:
    return CommandError(48, "StreamProcessorAlreadyExists", f"stream processor {name!r} already exists")


def wrong_state(message: str) -> CommandError:
    return CommandError(20, "IllegalOperation", message)
