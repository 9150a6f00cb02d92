"""Public, login-free pages: the signed invoice link a customer gets by e-mail."""
from flask import Blueprint, Response, render_template

from ..delivery.links import LinkRefused, document_for_token
from ..documents.views import preview_number, preview_pdf

bp = Blueprint("public", __name__, url_prefix="/i")


@bp.get("/<token>")
def invoice_pdf(token: str):
    try:
        document = document_for_token(token)
    except LinkRefused as refused:
        return render_template("public/link_refused.html", message=refused.message), refused.status
    pdf, _source = preview_pdf(document)
    filename = preview_number(document).replace("/", "_") + ".pdf"
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "private, no-store",
                             "X-Robots-Tag": "noindex"})
