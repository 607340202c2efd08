"""Generated protobuf modules for TAK protocol version 1 (see ``takmessage.proto``).

Do not edit the ``*_pb2`` files by hand: change the ``.proto`` and run
``scripts/regen-proto.sh``. Code outside ``rallypoint.cot.protobuf`` should not need them.
"""
