"""HTTP applications, one folder per audience: TAK clients (marti/), enrollment (enrollment/),
the command post (command_post/), and what they share (common/)."""
