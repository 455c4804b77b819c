"""STS (query protocol): GetCallerIdentity, GetSessionToken, AssumeRole,
AssumeRoleWithWebIdentity.

Temporary credentials are issued by the emulator (emu.issue_credentials):
requests signed with them are accepted only with their session token and
until they expire by the emulator clock.  AssumeRoleWithWebIdentity is
unsigned, as in AWS; its token must be a well-formed JWT whose exp claim
(if any) is in the future.
"""
import base64
import json
import re
import secrets

from .core import AwsError, Service, request_context

_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")
_SESSION_RE = re.compile(r"^[\w+=,.@-]{2,64}$")


def _b64url_json(part):
    pad = "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(part + pad))


class STS(Service):
    name = "sts"
    unsigned_operations = frozenset({"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})

    def __init__(self, emu):
        super().__init__(emu)
        self.role_ids = {}

    def _duration(self, p, hi=43200):
        d = p.get("DurationSeconds", self.emu.config["sts_default_duration_seconds"])
        if d > hi:
            raise AwsError("ValidationError", "The requested DurationSeconds exceeds the "
                           "MaxSessionDuration set for this role.")
        return d

    def _credentials(self, creds):
        return {"AccessKeyId": creds.access_key, "SecretAccessKey": creds.secret_key,
                "SessionToken": creds.session_token, "Expiration": creds.expires}

    def _assume(self, p):
        m = _ROLE_ARN_RE.match(p["RoleArn"])
        if not m:
            raise AwsError("ValidationError", "%s is invalid" % p["RoleArn"])
        session = p["RoleSessionName"]
        if not _SESSION_RE.match(session):
            raise AwsError("ValidationError", "1 validation error detected: Value '%s' at "
                           "'roleSessionName' failed to satisfy constraint: Member must "
                           "satisfy regular expression pattern: [\\w+=,.@-]*" % session)
        role_id = self.role_ids.setdefault(p["RoleArn"],
                                           "AROA" + secrets.token_hex(8).upper())
        arn = "arn:aws:sts::%s:assumed-role/%s/%s" % (m.group(1), m.group(2), session)
        creds = self.emu.issue_credentials(arn, self._duration(p))
        return creds, {"AssumedRoleId": "%s:%s" % (role_id, session), "Arn": arn}

    def GetCallerIdentity(self, p):
        ctx = request_context()
        creds = self.emu.credentials(ctx.access_key)
        arn = creds.arn
        if ":assumed-role/" in arn:
            role_arn_key = [k for k in self.role_ids
                            if k.endswith(":role/" + arn.split("/")[1])]
            user_id = "%s:%s" % (self.role_ids[role_arn_key[0]] if role_arn_key
                                 else "AROA", arn.rsplit("/", 1)[1])
        else:
            user_id = self.emu.account_id
        return {"UserId": user_id, "Account": self.emu.account_id, "Arn": arn}

    def GetSessionToken(self, p):
        ctx = request_context()
        base = self.emu.credentials(ctx.access_key)
        if base.session_token is not None:
            raise AwsError("AccessDenied", "Cannot call GetSessionToken with session "
                           "credentials", status=403)
        creds = self.emu.issue_credentials(base.arn, self._duration(p, 129600))
        return {"Credentials": self._credentials(creds)}

    def AssumeRole(self, p):
        creds, user = self._assume(p)
        return {"Credentials": self._credentials(creds), "AssumedRoleUser": user,
                "PackedPolicySize": 0 if p.get("Policy") else None}

    def AssumeRoleWithWebIdentity(self, p):
        token = p["WebIdentityToken"]
        parts = token.split(".")
        try:
            if len(parts) != 3:
                raise ValueError("not a JWT")
            _b64url_json(parts[0])
            claims = _b64url_json(parts[1])
            if not isinstance(claims, dict):
                raise ValueError("claims are not an object")
        except (ValueError, UnicodeDecodeError):
            raise AwsError("InvalidIdentityToken", "The ID token provided is malformed "
                           "or otherwise invalid.")
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp <= self.emu.clock.now():
            raise AwsError("ExpiredTokenException", "Token expired: current date/time "
                           "%d must be before the expiration date/time %d"
                           % (self.emu.clock.now(), exp))
        creds, user = self._assume(p)
        aud = claims.get("aud")
        if isinstance(aud, list):
            aud = aud[0] if aud else None
        return {"Credentials": self._credentials(creds), "AssumedRoleUser": user,
                "SubjectFromWebIdentityToken": str(claims.get("sub", "")) or None,
                "Provider": claims.get("iss"), "Audience": aud}
