"""Every query of merchant-owned rows goes through these helpers: an id that belongs to another
merchant answers 404, exactly like an id that does not exist."""
from flask import abort
from flask_login import current_user

from .extensions import db


def current_merchant_id() -> int:
    return current_user.merchant_id


def owned(model):
    return db.select(model).where(model.merchant_id == current_merchant_id())


def get_owned_or_404(model, object_id: int):
    obj = db.session.scalar(owned(model).where(model.id == object_id))
    if obj is None:
        abort(404)
    return obj
