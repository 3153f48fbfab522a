"""The one error type users of geode_ros catch."""


class GeodeError(Exception):
    """Bad input or an unusable state, with a message that says what to fix.

    Raised for malformed messages, unknown encodings, non-finite poses, missing
    intrinsics, empty scene memory, questions the model cannot parse, corrupt or
    mismatched checkpoints. Nothing else should escape the public API on bad input.
    """


class InputRejected(GeodeError):
    """A sensor message outside what a camera, depth sensor or pose source can produce.

    ``reason`` is a short stable code (e.g. ``pose_translation``, ``intrinsics``,
    ``stamp_future``) that the node counts rejections by; the message says what was wrong.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
