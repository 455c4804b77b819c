"""The services the emulator serves: one core.Service subclass a service,
instantiated once per emulator.  A new service is added to SERVICES."""
from .athena import Athena
from .dynamodb import DynamoDB
from .firehose import Firehose
from .glue import Glue
from .s3 import S3
from .streams import DynamoDBStreams
from .sts import STS

SERVICES = [
    S3,
    STS,
    DynamoDB,
    DynamoDBStreams,
    Firehose,
    Glue,
    Athena,
]
