"""The order intake API: POST /api/v1/orders with a merchant's bearer token; POST
/api/v1/orders/<id>/payment marks an order paid (an order sent again is never changed)."""
import json
from decimal import Decimal

from flask import Blueprint, abort, g, jsonify, request

from ..extensions import db
from ..models import Order
from ..orders.services import OrderRejected, create_order, mark_paid, order_to_json, parse_paid_date
from .auth import token_required

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _reject_float(value: str):
    # JSON numbers become Decimal: money never passes through binary floating point.
    return Decimal(value)


def _json_body():
    if not request.mimetype or request.mimetype != "application/json":
        return None, {"body": "Wyślij JSON z nagłówkiem Content-Type: application/json."}
    try:
        return json.loads(request.get_data(cache=False), parse_float=_reject_float), None
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        return None, {"body": f"Nieprawidłowy JSON: {error}"[:300]}


@bp.post("/orders")
@token_required
def create_order_endpoint():
    payload, error = _json_body()
    if error:
        return jsonify(error="invalid", errors=error), (415 if "Content-Type" in error["body"] else 400)
    try:
        order, created = create_order(g.api_merchant_id, payload)
    except OrderRejected as rejected:
        db.session.rollback()
        return jsonify(error="invalid", errors=rejected.errors), 422
    db.session.commit()  # records the token's last use
    return jsonify(order_to_json(order)), (201 if created else 200)


@bp.get("/orders/<int:order_id>")
@token_required
def get_order_endpoint(order_id: int):
    order = db.session.scalar(
        db.select(Order).where(Order.merchant_id == g.api_merchant_id, Order.id == order_id)
    )
    if order is None:
        abort(404)
    db.session.commit()
    return jsonify(order_to_json(order))


@bp.post("/orders/<int:order_id>/payment")
@token_required
def order_payment_endpoint(order_id: int):
    """Body {"paid_date": "RRRR-MM-DD"} (optional: today). The first call marks the order paid and
    fires "order paid"; later calls answer with the order unchanged."""
    order = db.session.scalar(
        db.select(Order).where(Order.merchant_id == g.api_merchant_id, Order.id == order_id)
    )
    if order is None:
        abort(404)
    payload, error = _json_body() if request.get_data(cache=True) else ({}, None)
    if error:
        return jsonify(error="invalid", errors=error), (415 if "Content-Type" in error["body"] else 400)
    if not isinstance(payload, dict):
        return jsonify(error="invalid", errors={"body": "Wyślij obiekt JSON."}), 422
    paid_date, errors = parse_paid_date(payload.get("paid_date"))
    if errors:
        db.session.rollback()
        return jsonify(error="invalid", errors=errors), 422
    changed = mark_paid(order, paid_date)
    db.session.commit()  # records the token's last use
    return jsonify({**order_to_json(order), "changed": changed})
