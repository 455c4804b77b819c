"""STS (query protocol): identities and temporary credentials that the
emulator then accepts, with their session token, until they expire."""
import base64
import json

import botocore.exceptions
import pytest


def jwt(claims):
    def enc(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return "%s.%s.%s" % (enc({"alg": "RS256", "typ": "JWT"}), enc(claims), "c2ln")


def test_caller_identity(sts):
    r = sts.get_caller_identity()
    assert r["Account"] == "000000000000"
    assert r["Arn"] == "arn:aws:iam::000000000000:root"


def test_assume_role_credentials_work(emulator, sts, uid):
    r = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/" + uid,
                        RoleSessionName="sess1", DurationSeconds=900)
    c = r["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA")
    assert r["AssumedRoleUser"]["Arn"] == \
        "arn:aws:sts::000000000000:assumed-role/%s/sess1" % uid
    temp = emulator.client("sts", aws_access_key_id=c["AccessKeyId"],
                           aws_secret_access_key=c["SecretAccessKey"],
                           aws_session_token=c["SessionToken"])
    assert temp.get_caller_identity()["Arn"] == r["AssumedRoleUser"]["Arn"]
    # the same keys without their session token are refused
    bare = emulator.client("sts", aws_access_key_id=c["AccessKeyId"],
                           aws_secret_access_key=c["SecretAccessKey"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bare.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"
    # and a wrong token too (S3 reports it its own way)
    s3 = emulator.client("s3", aws_access_key_id=c["AccessKeyId"],
                         aws_secret_access_key=c["SecretAccessKey"],
                         aws_session_token=c["SessionToken"] + "x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_buckets()
    assert e.value.response["Error"]["Code"] == "InvalidToken"


def test_assume_role_validation(sts):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn="arn:aws:iam::notanaccount:role/x", RoleSessionName="s1")
    assert e.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/x",
                        RoleSessionName="s1", DurationSeconds=50000)
    assert e.value.response["Error"]["Code"] == "ValidationError"


def test_web_identity(emulator, uid):
    # unsigned, as in AWS
    anon = emulator.client("sts", aws_access_key_id="nobody", aws_secret_access_key="x")
    now = emulator._call("GET", "clock")["now"]
    r = anon.assume_role_with_web_identity(
        RoleArn="arn:aws:iam::000000000000:role/" + uid, RoleSessionName="web",
        WebIdentityToken=jwt({"sub": "system:serviceaccount:ns:sa", "aud": "sts.amazonaws.com",
                              "iss": "https://oidc.example", "exp": now + 600}))
    assert r["SubjectFromWebIdentityToken"] == "system:serviceaccount:ns:sa"
    assert r["Audience"] == "sts.amazonaws.com"
    c = r["Credentials"]
    s3 = emulator.client("s3", aws_access_key_id=c["AccessKeyId"],
                         aws_secret_access_key=c["SecretAccessKey"],
                         aws_session_token=c["SessionToken"])
    s3.list_buckets()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        anon.assume_role_with_web_identity(
            RoleArn="arn:aws:iam::000000000000:role/" + uid, RoleSessionName="web",
            WebIdentityToken="not-a-jwt-token")
    assert e.value.response["Error"]["Code"] == "InvalidIdentityToken"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        anon.assume_role_with_web_identity(
            RoleArn="arn:aws:iam::000000000000:role/" + uid, RoleSessionName="web",
            WebIdentityToken=jwt({"sub": "x", "exp": now - 10}))
    assert e.value.response["Error"]["Code"] == "ExpiredTokenException"
