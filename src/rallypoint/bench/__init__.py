"""``rallypoint bench``: a load generator and reporter for the streaming server."""
