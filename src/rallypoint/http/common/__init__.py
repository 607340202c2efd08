"""What every HTTP audience shares: the caller, request parameters, uploads, the zip check, throttles."""
