"""The error hierarchy: every failure Rallypoint reports on purpose is one of these.

Lower layers translate foreign exceptions (lxml, protobuf, OSError) into these types at
their edge with ``raise ... from``, so callers catch a small, closed set of names.
"""


class RallypointError(Exception):
    """Base of every error Rallypoint raises deliberately."""


class ConfigError(RallypointError):
    """The settings are invalid (bad file, bad value, bad environment variable)."""


class ProtocolError(RallypointError):
    """Bytes from the network break the wire protocol.

    ``reason`` is a short, stable, machine-friendly label used for counters and logs
    (for example ``frame_too_large``); the message is for humans.
    """

    reason = "protocol_error"


class FrameTooLarge(ProtocolError):
    """A frame or event is longer than its configured cap."""

    reason = "frame_too_large"


class MalformedFrame(ProtocolError):
    """A stream or mesh frame header is broken (bad magic byte, bad varint)."""

    reason = "malformed_frame"


class EmptyFrame(MalformedFrame):
    """A TAK protocol frame of length zero: it carries nothing, and a flood of them is an attack."""

    reason = "empty_frame"


class ForbiddenXml(ProtocolError):
    """The XML uses a construct we never accept (DOCTYPE, entity declarations)."""

    reason = "forbidden_xml"


class MalformedXml(ProtocolError):
    """The XML is not well-formed, or is too deeply nested."""

    reason = "malformed_xml"


class InvalidEvent(ProtocolError):
    """Well-formed XML or protobuf that is not a valid CoT event."""

    reason = "invalid_event"


class PkiError(RallypointError):
    """A certificate, user or key operation cannot be done (unknown name, duplicate, bad file)."""


class AuthenticationError(PkiError):
    """Credentials were missing or wrong, or the identity is disabled or revoked."""


class EnrollmentRefused(PkiError):
    """A certificate signing request does not match what the server signs."""


class StoreError(RallypointError):
    """The event and package store cannot be opened, read or written (bad URL, database error)."""


class UploadRefused(RallypointError):
    """An uploaded file is refused; ``reason`` is a short label for logs and the response."""

    reason = "upload_refused"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class UploadTooLarge(UploadRefused):
    """The upload is larger than the configured cap."""

    reason = "too_large"


class MalformedUpload(UploadRefused):
    """The request body is not the multipart form (or the part) the endpoint expects."""

    reason = "bad_request"


class NotAZip(UploadRefused):
    """A data package upload whose bytes are not a zip archive, whatever its header says."""

    reason = "not_a_zip"


class InvalidPackage(UploadRefused):
    """A zip that is unsafe or not a data package (no manifest, traversal, bomb, encryption)."""

    reason = "invalid_package"


# Missions, objectives and checklists (issue 5)


class MissionError(RallypointError):
    """A mission, objective or checklist request cannot be done; the API maps each kind to a 4xx."""


class MissionNotFound(MissionError):
    """No such mission, objective or checklist, or one the caller's groups may not see."""


class MissionForbidden(MissionError):
    """The caller may see the mission but lacks the role, password, token or invitation needed."""


class WrongMissionPassword(MissionForbidden):
    """The password given for a mission is wrong (throttled and audited like a failed login)."""


class MissionConflict(MissionError):
    """The request contradicts the mission's current state (duplicate name, illegal transition)."""


class InvalidMissionRequest(MissionError):
    """A field of the request is missing, of the wrong type or out of range."""


class FusionError(RallypointError):
    """The track-fusion engine was asked for something inconsistent (an alias cycle, a bad config)."""


class MissionsUnavailable(MissionError):
    """The store is closed (or the server keeps none): missions can be neither read nor changed."""


# Feed adapters (issue 7)


class FeedError(RallypointError):
    """A feed adapter cannot go on; ``reason`` is a short label for counters (``refused``, ``http_503``)."""

    reason = "feed_error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class FeedDown(FeedError):
    """The feed's connection failed or ended; the supervisor restarts it after a back-off delay."""

    reason = "down"


class ClusterError(RallypointError):
    """A message on the cluster bus that is not ours or not well formed."""
