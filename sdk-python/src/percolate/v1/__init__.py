"""The generated protobuf and gRPC modules of `percolate.v1`.

Written by sdk-python/scripts/generate.sh from proto/percolate/v1: do not
edit. Most code never needs them: `percolate.Client` takes and returns plain
dataclasses.
"""
