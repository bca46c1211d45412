"""Credentials for an endpoint: from the secret the endpoint names, else endpoint fields + a named password.

The password lives only in :class:`~dmsval.credentials.Credentials` (re-exported here), whose ``repr`` hides it;
it is never logged or reported. A secret that cannot be read is an error (never a silent fallback to the secret's
id or to an empty password). Messages name a secret's id and the field at fault, never a field's content: a
secret's fields are typed by hand, and a password pasted into the wrong one would otherwise land in the report and
the notification.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..credentials import Credentials
from ..errors import SecretError
from .clients import AWS_ERRORS, AwsContext, error_code
from .dms import EndpointInfo

__all__ = ["Credentials", "read_secret", "resolve_credentials"]


def read_secret(aws: AwsContext, secret_id: str) -> dict[str, Any]:
    """GetSecretValue as a JSON object; a plain-string secret is returned as {"password": value}."""
    try:
        response = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)
    except AWS_ERRORS as e:
        raise SecretError(f"cannot read secret {secret_id!r}: {error_code(e)}") from e
    text = response.get("SecretString")
    if text is None:
        raise SecretError(f"secret {secret_id!r} has no SecretString (binary secrets are not supported)")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {"password": text}
    if not isinstance(value, dict):
        return {"password": text}
    return value


def resolve_credentials(aws: AwsContext, endpoint: EndpointInfo, *, password_secret: str | None = None,
                        password_env: str | None = None, environ: dict[str, str] | None = None) -> Credentials:
    """Build connection credentials for ``endpoint``.

    Order: the secret named by the endpoint's settings (host, port, username, password, dbname keys as DMS
    stores them; endpoint fields fill gaps); else the endpoint's own server/port/user with the password from
    ``password_secret`` (a secret id) or ``password_env`` (an environment variable name).
    """
    environ = dict(os.environ) if environ is None else environ
    role = endpoint.endpoint_type
    secret: dict[str, Any] = {}
    if endpoint.secret_id:
        secret = read_secret(aws, endpoint.secret_id)
        origin = f"secret {endpoint.secret_id}"
        if "password" not in secret:
            raise SecretError(f"secret {endpoint.secret_id!r} of the {role} endpoint has no 'password' key")
        password = str(secret["password"])
    elif password_secret:
        password = str(read_secret(aws, password_secret).get("password", ""))
        origin = f"secret {password_secret}"
        if not password:
            raise SecretError(f"secret {password_secret!r} (--{role}-password-secret) has no 'password' key")
    elif password_env:
        if password_env not in environ:
            raise SecretError(f"environment variable {password_env} (--{role}-password-env) is not set")
        password = environ[password_env]
        origin = f"environment {password_env}"
    else:
        raise SecretError(
            f"the {role} endpoint {endpoint.identifier} names no Secrets Manager secret: pass "
            f"--{role}-password-secret SECRET_ID or --{role}-password-env VARIABLE"
        )
    host = secret.get("host") or endpoint.server_name
    port = secret.get("port") or endpoint.port
    user = secret.get("username") or endpoint.username
    database = secret.get("dbname") or endpoint.database_name
    missing = [name for name, value in (("host", host), ("port", port), ("username", user)) if not value]
    if missing:
        raise SecretError(f"the {role} endpoint {endpoint.identifier} lacks {', '.join(missing)} "
                          f"(neither the endpoint nor {origin} provides it)")
    port_origin = f"field 'port' of {origin}" if secret.get("port") else "the endpoint's port"
    port_number = _port_number(port)
    if port_number is None:
        # named, not quoted: the field may hold anything, a password included
        raise SecretError(f"the {role} endpoint {endpoint.identifier}: {port_origin} is not a port number "
                          f"(an integer from 1 to 65535)")
    return Credentials(host=str(host), port=port_number, user=str(user), database=database,
                       password=password, ssl_mode=endpoint.ssl_mode, origin=origin)


def _port_number(value: Any) -> int | None:
    """A port from a secret (a number, or its decimal text) or from the endpoint; None when it is not one
    (JSON true is not port 1)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 1 <= value <= 65535:
        return value
    return None
