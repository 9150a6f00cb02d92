from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length


class LoginForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired("Podaj e-mail."), Email("To nie jest adres e-mail."), Length(max=200)])
    password = PasswordField("Hasło", validators=[DataRequired("Podaj hasło."), Length(max=200)])
    remember = BooleanField("Zapamiętaj mnie")
