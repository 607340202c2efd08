"""``rallypoint bench``: the server's own load generator and reporter.

``scenarios`` names the runs and their targets, ``messages`` pre-encodes what senders
write, ``counting`` finds message ends without parsing, ``route`` says where (and over
what) connections go, ``tls`` makes the bench's identities and client contexts,
``loadgen`` holds the asyncio clients and ``tally`` what they received, ``runner`` drives
one run into ``results``, ``compare`` sets plain TCP against TLS, ``server`` and ``proc``
start and observe the server process, ``report`` renders the results and ``command`` is
the command line.
"""
