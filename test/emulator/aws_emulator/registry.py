"""The services the emulator serves: one core.Service subclass a service,
instantiated once per emulator.  A new service is added to SERVICES."""
from .athena import Athena
from .glue import Glue
from .s3 import S3
from .sts import STS

SERVICES = [
    S3,
    STS,
    Glue,
    Athena,
]
