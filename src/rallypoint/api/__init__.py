"""HTTP for TAK clients: certificate enrollment (port 8446), later the Marti API."""
