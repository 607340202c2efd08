"""CoT type strings the server treats specially, named once (reference §1.7, §5.6)."""

PING = "t-x-c-t"
PONG = "t-x-c-t-r"
DELETE = "t-x-d-d"
PROTOCOL_OFFER = "t-x-takp-v"
PROTOCOL_REQUEST = "t-x-takp-q"
PROTOCOL_RESPONSE = "t-x-takp-r"
CHAT = "b-t-f"
CHAT_DELIVERY_FAILURE = "b-t-f-s"
CHAT_PENDING = "b-t-f-p"
"""Kept for a recipient that is offline: delivered when it returns (store-and-forward)."""
CHAT_DELIVERED = "b-t-f-d"
CHAT_READ = "b-t-f-r"
CHAT_ANSWERS = frozenset({CHAT_DELIVERY_FAILURE, CHAT_PENDING, CHAT_DELIVERED, CHAT_READ})
"""The server's and the recipients' answers about a chat: never answered themselves."""
EMERGENCY_CANCEL = "b-a-o-can"
EMERGENCY_TYPES = frozenset({"b-a-o-tbl", "b-a-o-pan", "b-a-o-opn", "b-a-g", "b-a-o-c"})

CONTROL_TYPES = frozenset(
    {
        PING,
        PONG,
        PROTOCOL_OFFER,
        PROTOCOL_REQUEST,
        PROTOCOL_RESPONSE,
        "t-x-c-f",
        "t-x-c-m",
        "t-x-c-i-e",
        "t-x-c-i-d",
        "t-b",
        "t-b-a",
        "t-b-c",
        "t-b-q",
    }
)
"""Connection-local messages: consumed by the server, never routed, stored or replayed."""

ALL_STREAMING = "All Streaming"
"""The ``marti/dest`` callsign that means "everyone"."""

ALL_CHAT_ROOMS = "All Chat Rooms"

_CACHED_PREFIXES = ("a-", "b-m-p", "b-m-r", "u-", "b-r-f-h-c", "b-i-v")


def is_control(cot_type: str) -> bool:
    """True for connection-local control traffic (negotiation, ping, filters)."""
    return cot_type in CONTROL_TYPES


def is_chat(cot_type: str) -> bool:
    """GeoChat messages and their receipts (``b-t-f``, ``b-t-f-d``, ``b-t-f-r`` ...)."""
    return cot_type == CHAT or cot_type.startswith("b-t-f-")


def is_answerable(cot_type: str) -> bool:
    """A chat whose sender is told whether it was delivered, kept or refused (not an answer itself)."""
    return is_chat(cot_type) and cot_type not in CHAT_ANSWERS


def is_emergency(cot_type: str) -> bool:
    """An active alert (not its cancellation)."""
    return cot_type in EMERGENCY_TYPES


def is_cacheable(cot_type: str) -> bool:
    """Persistent map items and positions worth replaying to a newly connected client."""
    return cot_type.startswith(_CACHED_PREFIXES) or cot_type in EMERGENCY_TYPES
