from flask import Blueprint, render_template
from flask_login import login_required
from sqlalchemy import func

from ..extensions import db
from ..models import Document, Order
from ..tenancy import current_merchant_id

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def dashboard():
    merchant_id = current_merchant_id()
    order_count = db.session.scalar(db.select(func.count(Order.id)).where(Order.merchant_id == merchant_id))
    document_counts = dict(
        db.session.execute(
            db.select(Document.kind, func.count(Document.id)).where(Document.merchant_id == merchant_id)
            .group_by(Document.kind)
        ).all()
    )
    recent = db.session.scalars(
        db.select(Document).where(Document.merchant_id == merchant_id).order_by(Document.id.desc()).limit(10)
    ).all()
    return render_template("main/dashboard.html", order_count=order_count, document_counts=document_counts,
                           recent=recent)
