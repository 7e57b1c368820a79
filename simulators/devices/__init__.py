"""Device simulators: the device side of each wire protocol, configured from the driver's profile."""
