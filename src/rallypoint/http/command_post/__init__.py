"""The web command post: its page, JSON API, login and live WebSocket."""
