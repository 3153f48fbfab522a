"""The one error type users of geode_ros catch."""


class GeodeError(Exception):
    """Bad input or an unusable state, with a message that says what to fix.

    Raised for malformed messages, unknown encodings, non-finite poses, missing
    intrinsics, empty scene memory, questions the model cannot parse, corrupt or
    mismatched checkpoints. Nothing else should escape the public API on bad input.
    """
