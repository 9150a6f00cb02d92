"""Bearer-token authentication for the API: a token belongs to one merchant; revoked tokens fail."""
from functools import wraps

from flask import g, jsonify, request

from ..extensions import db
from ..models import ApiToken, utcnow


def token_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _unauthorized("Brak nagłówka Authorization: Bearer <token>.")
        api_token = db.session.scalar(
            db.select(ApiToken).where(ApiToken.token_hash == ApiToken.hash_token(token.strip()))
        )
        if api_token is None or api_token.revoked_at is not None:
            return _unauthorized("Nieprawidłowy lub unieważniony token API.")
        api_token.last_used_at = utcnow()
        g.api_merchant_id = api_token.merchant_id
        return view(*args, **kwargs)

    return wrapper


def _unauthorized(message: str):
    response = jsonify(error="unauthorized", message=message)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="invoice-bridge"'
    return response
