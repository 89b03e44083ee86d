"""Settings package: ``base`` holds everything shared; ``local``, ``test`` and
``production`` only change what differs between those runtime shapes."""
