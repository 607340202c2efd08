"""``rallypoint bench``: the server's own load generator and reporter.

``scenarios`` names the runs and their targets, ``messages`` pre-encodes what senders
write, ``counting`` finds message ends without parsing, ``loadgen`` holds the asyncio
clients and ``tally`` what they received, ``runner`` drives one run, ``server`` and
``proc`` start and observe the server process, ``report`` renders the results and
``command`` is the command line.
"""
