from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length


class LoginForm(FlaskForm):
    email = StringField(_l("E-mail"), validators=[DataRequired(_l("Podaj e-mail.")),
                                                  Email(_l("To nie jest adres e-mail.")), Length(max=200)])
    password = PasswordField(_l("Hasło"), validators=[DataRequired(_l("Podaj hasło.")), Length(max=200)])
    remember = BooleanField(_l("Zapamiętaj mnie"))
